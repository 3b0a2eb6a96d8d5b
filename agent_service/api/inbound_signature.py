"""Signed inbound requests: a workspace with a signing secret accepts only signed bodies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from agent_service.api.deps import bearer, bearer_key, check_roles, principal_of
from agent_service.api.key_reads import KeyReads
from agent_service.delivery.signature import HEADER, is_valid
from agent_service.workspaces.api_keys import Principal, hash_key


async def signed_channel_key(request: Request) -> Principal:
    """A channel key, and when the workspace has a signing secret, a valid body signature.

    Checked before the body is parsed or anything is stored. One dependency with no
    sub-dependency (the bearer key is read from the header here, as ``HTTPBearer`` reads it;
    the route documents the scheme), and the key and the workspace's delivery settings read
    with those of every request of the same tick, then kept for a moment (api/key_reads.py):
    this runs for every message, and each dependency FastAPI resolves costs more than the
    query it wraps.
    """
    reads: KeyReads = request.app.state.key_reads
    key, settings = await reads.read(hash_key(bearer_key(_bearer(request))))
    principal = check_roles(principal_of(key), ("channel",))
    request.state.delivery_settings = settings  # the route needs them too
    if settings is None or not settings.signing_secret:
        return principal
    body = await request.body()  # the raw bytes, exactly as signed; FastAPI reuses them
    if not is_valid(settings.signing_secret, body, request.headers.get(HEADER)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"missing or invalid {HEADER} header: send 'sha256=<hex HMAC-SHA256 of the raw body, "
            "keyed with the workspace signing secret>'",
        )
    return principal


def _bearer(request: Request) -> HTTPAuthorizationCredentials | None:
    """What ``HTTPBearer(auto_error=False)`` gives: the credentials of a well-formed
    ``Authorization: Bearer <key>`` header, None otherwise."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    credentials = credentials.strip()
    if not (scheme and credentials) or scheme.lower() != "bearer":
        return None
    return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


SignedChannelKey = Annotated[Principal, Depends(signed_channel_key)]
# The scheme the route's OpenAPI operation names (it was the sub-dependency's doing).
BEARER_SECURITY: dict[str, Any] = {"security": [{bearer.scheme_name: []}]}

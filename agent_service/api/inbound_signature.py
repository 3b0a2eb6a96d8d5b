"""Signed inbound requests: a workspace with a signing secret accepts only signed bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from agent_service.api.deps import bearer, bearer_key, check_roles, principal_of
from agent_service.api.key_reads import KeyReads
from agent_service.delivery.signature import HEADER, is_valid
from agent_service.workspaces.api_keys import Principal, hash_key


async def signed_channel_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """A channel key, and when the workspace has a signing secret, a valid body signature.

    Checked before the body is parsed or anything is stored. One dependency, and the key and
    the workspace's delivery settings read with those of every request of the same tick
    (api/key_reads.py): this runs for every message, and each dependency FastAPI resolves costs
    more than the query it wraps.
    """
    reads: KeyReads = request.app.state.key_reads
    key, settings = await reads.read(hash_key(bearer_key(credentials)))
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


SignedChannelKey = Annotated[Principal, Depends(signed_channel_key)]

"""Signed inbound requests: a workspace with a signing secret accepts only signed bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from agent_service.agent.deps import AgentDeps
from agent_service.api.deps import bearer, check_roles, key_principal
from agent_service.delivery import callback_settings
from agent_service.delivery.signature import HEADER, is_valid
from agent_service.workspaces.api_keys import Principal


async def signed_channel_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """A channel key, and when the workspace has a signing secret, a valid body signature.

    Checked before the body is parsed or anything is stored. One dependency and one session
    for the key and the workspace's delivery settings: this runs for every message, and each
    dependency FastAPI resolves costs more than the query it wraps.
    """
    deps: AgentDeps = request.app.state.agent_deps
    async with deps.front() as session:
        principal = check_roles(await key_principal(session, credentials), ("channel",))
        settings = await callback_settings.read(session, principal.workspace_id)
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

"""Signed inbound requests: a workspace with a signing secret accepts only signed bodies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from agent_service.api.deps import AgentDepsDep, ChannelKey
from agent_service.delivery import callback_settings
from agent_service.delivery.signature import HEADER, is_valid
from agent_service.workspaces.api_keys import Principal


async def signed_channel_key(
    request: Request, principal: ChannelKey, deps: AgentDepsDep
) -> Principal:
    """A channel key, and when the workspace has a signing secret, a valid body signature.

    Checked before the body is parsed or anything is stored.
    """
    settings = await callback_settings.load(deps.front, principal.workspace_id)
    request.state.delivery_settings = settings  # read once per request: the route needs it too
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

from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request, status
from fastapi.responses import JSONResponse

from agent_service.agent.deps import AgentDeps
from agent_service.agent.turn import accept_message, run_turn
from agent_service.api.errors import (
    DATABASE_BUSY,
    ERROR_RESPONSES,
    RATE_LIMITED,
    ErrorBody,
)
from agent_service.api.inbound_signature import BEARER_SECURITY, SignedChannelKey
from agent_service.delivery import callback_settings
from agent_service.schemas.delivery import MessageAccepted
from agent_service.schemas.messages import InboundMessage, MessageResponse

router = APIRouter(prefix="/v1/messages", tags=["messages"])
ASYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "model": MessageAccepted,
        "description": "With `Prefer: respond-async`: stored; the response comes by callback.",
    },
    409: {
        "model": ErrorBody,
        "description": "`Prefer: respond-async` but the workspace has no callback URL.",
    },
}


@router.post(
    "",
    response_model=MessageResponse,
    responses={**ERROR_RESPONSES, **ASYNC_RESPONSES, **RATE_LIMITED, **DATABASE_BUSY},
    openapi_extra=BEARER_SECURITY,
)
async def post_message(
    request: Request,
    message: InboundMessage,
    principal: SignedChannelKey,
    prefer: Annotated[
        str | None,
        Header(description="`respond-async`: acknowledge with 202, send the answer by callback."),
    ] = None,
) -> Any:
    """Answer one customer message: the reply to send and the actions taken.

    Idempotent on (channel, message_id): a repeat returns the original response unchanged.
    While a human owns the conversation the answer is `silent`, with no reply. Messages of a
    burst answered together are `merged`, with `answered_by` naming the one carrying the reply.
    With `Prefer: respond-async` the answer is POSTed to the workspace's callback URL instead.
    """
    deps: AgentDeps = request.app.state.agent_deps  # not a dependency: see signed_channel_key
    limit = deps.settings.max_message_chars
    if len(message.text) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"text is {len(message.text)} characters; the limit is {limit}",
        )
    # Rate limits (shared by every replica) are charged as the message is stored; a repeat
    # delivery is answered from the record and never refused.
    limits = deps.rate_limits
    if prefer is not None and "respond-async" in prefer.lower():
        target = getattr(request.state, "delivery_settings", None)  # read by the signature check
        if target is None:
            target = await callback_settings.load(deps.front, principal.workspace_id)
        if target is None or not target.callback_url:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                "no callback URL for asynchronous answers: set one with "
                "PUT /v1/workspaces/current/delivery, or drop 'Prefer: respond-async'",
            )
        accepted = await accept_message(deps, principal.workspace_id, message, limits)
        return JSONResponse(
            accepted.model_dump(mode="json"),
            status_code=status.HTTP_202_ACCEPTED,
            headers={"Preference-Applied": "respond-async"},
        )
    return await run_turn(deps, principal.workspace_id, message, limits)

from fastapi import APIRouter, HTTPException, status

from agent_service.agent.turn import run_turn
from agent_service.api.deps import AgentDepsDep, ChannelKey
from agent_service.api.errors import ERROR_RESPONSES, RATE_LIMITED
from agent_service.rate_limits import admit
from agent_service.schemas.messages import InboundMessage, MessageResponse

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.post("", response_model=MessageResponse, responses={**ERROR_RESPONSES, **RATE_LIMITED})
async def post_message(
    message: InboundMessage, principal: ChannelKey, deps: AgentDepsDep
) -> MessageResponse:
    """Answer one customer message: the reply to send and the actions taken.

    Idempotent on (channel, message_id): a repeat returns the original response unchanged.
    While a human owns the conversation the answer is `silent`, with no reply.
    """
    limit = deps.settings.max_message_chars
    if len(message.text) > limit:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"text is {len(message.text)} characters; the limit is {limit}",
        )
    await admit(deps.rate_limits, deps.sessions, principal.workspace_id, message)
    return await run_turn(deps, principal.workspace_id, message)

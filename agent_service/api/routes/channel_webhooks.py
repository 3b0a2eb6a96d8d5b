"""The platforms' webhooks: WhatsApp, Telegram, LINE and Chatwoot post here directly.

No API key: the platform's signature or secret token is the authentication, checked on the
raw bytes before anything is read or stored (401, nothing stored). Each text message is then
handled exactly as `POST /v1/messages` with `Prefer: respond-async` handles one
(``accept_message``): stored with its outbox row, acknowledged at once, answered by the turn
in the background, the reply sent to the platform by the callback dispatcher. The platform's
message id is the idempotency key, so a redelivered webhook is answered once. Statuses and
unsupported types are acknowledged, counted on the connection and logged, not answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from agent_service.agent.deps import AgentDeps
from agent_service.agent.turn import accept_message
from agent_service.api.errors import RATE_LIMITED, ErrorBody
from agent_service.channels import connections, whatsapp
from agent_service.channels.connections import Connection
from agent_service.channels.sending import PLATFORMS
from agent_service.conversations.events import ContactNotFound, apply_event
from agent_service.schemas.channels import ChannelType
from agent_service.schemas.contacts import ContactEventIn
from agent_service.schemas.messages import InboundMessage

router = APIRouter(prefix="/channels", tags=["channel webhooks"])
log = logging.getLogger("agent_service.channels")

UNKNOWN: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No connection of this type with this id."}
}
WEBHOOK_ERRORS: dict[int | str, dict[str, Any]] = {
    **UNKNOWN,
    400: {"model": ErrorBody, "description": "The body is not a JSON object."},
    401: {"model": ErrorBody, "description": "Missing or wrong signature or secret token."},
    **RATE_LIMITED,
}


class WebhookAck(BaseModel):
    """What the delivery brought: text messages accepted for an answer, events ignored."""

    accepted: int
    ignored: int


async def _connection(deps: AgentDeps, channel_type: str, connection_id: str) -> Connection:
    found = await connections.load(deps.front, connection_id)
    if found is None or found.type != channel_type:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"no {channel_type} connection '{connection_id}': use the webhook_path "
            "POST /v1/channels returned",
        )
    return found


@router.get(
    "/whatsapp/{connection_id}",
    # No response_class: it would document the errors (JSON) as text/plain too.
    responses={
        **UNKNOWN,
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The hub.challenge, echoed as plain text.",
        },
        403: {"model": ErrorBody, "description": "hub.verify_token does not match."},
    },
)
async def verify_whatsapp(connection_id: str, request: Request) -> PlainTextResponse:
    """Meta's webhook verification: echoes `hub.challenge` when `hub.mode=subscribe` and
    `hub.verify_token` is the connection's verify token."""
    deps: AgentDeps = request.app.state.agent_deps
    connection = await _connection(deps, "whatsapp", connection_id)
    answer = whatsapp.challenge(connection, request.query_params)
    if answer is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "hub.verify_token is not this connection's verify_token (or hub.mode is not "
            "'subscribe'): paste the same verify token in Meta's webhook settings",
        )
    return PlainTextResponse(answer)


@router.post("/{channel_type}/{connection_id}", response_model=WebhookAck, responses=WEBHOOK_ERRORS)
async def receive_webhook(
    channel_type: ChannelType, connection_id: str, request: Request
) -> WebhookAck:
    """A platform's webhook delivery, answered at once: text messages are stored and answered
    in the background (the reply goes back to the platform), the rest acknowledged."""
    deps: AgentDeps = request.app.state.agent_deps
    connection = await _connection(deps, channel_type, connection_id)
    platform = PLATFORMS[channel_type]
    body = await request.body()
    reason = platform.refusal(connection, request.headers, request.query_params, body)
    if reason is not None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, reason)
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body must be a JSON object")
    found = platform.read(connection, payload, deps.clock(), deps.settings.max_message_chars)
    workspace_id = connection.workspace_id
    # Conversation events first: a human who took over silences the message that came with
    # the news. An event about a contact not met yet waits for the contact's message to be
    # stored, under the contact's lock, so that message's turn starts after the event.
    later = [e for e in found.events if not await _apply(deps, workspace_id, *e)]
    waiting = {contact_id for contact_id, _ in later}
    await _accept(deps, workspace_id, [m for m in found.messages if m.contact.id not in waiting])
    for contact_id in sorted(waiting):
        async with deps.contact_locks.hold(workspace_id, contact_id):
            mine = [m for m in found.messages if m.contact.id == contact_id]
            await _accept(deps, workspace_id, mine)
            for _, event in [e for e in later if e[0] == contact_id]:
                if not await _apply(deps, workspace_id, contact_id, event, locked=True):
                    found.ignored.append(f"{event.type} for a contact the agent has not met")
    if found.ignored:
        log.info(
            "webhook events acknowledged without an answer",
            extra={"fields": {"connection_id": connection.id, "ignored": found.ignored[:20]}},
        )
    await connections.count_webhook(
        deps.sessions,
        deps.write_gate,
        connection.id,
        len(found.messages),
        found.ignored,
        deps.clock(),
    )
    return WebhookAck(accepted=len(found.messages), ignored=len(found.ignored))


async def _accept(deps: AgentDeps, workspace_id: str, messages: list[InboundMessage]) -> None:
    """Each message as `POST /v1/messages` with `Prefer: respond-async` takes it: stored with
    its outbox row (one transaction for those arriving together), answered in the background."""
    if messages:
        await asyncio.gather(
            *(accept_message(deps, workspace_id, m, deps.rate_limits) for m in messages)
        )


async def _apply(
    deps: AgentDeps,
    workspace_id: str,
    contact_id: str,
    event: ContactEventIn,
    locked: bool = False,
) -> bool:
    """The event applied as POST /v1/contacts/{id}/events applies it (under the contact's
    lock: taken here unless ``locked``); False when the contact is unknown. A repeat (the
    same event id) changes nothing."""
    try:
        async with contextlib.AsyncExitStack() as stack:
            if not locked:
                await stack.enter_async_context(deps.contact_locks.hold(workspace_id, contact_id))
            session = await stack.enter_async_context(deps.sessions())
            await stack.enter_async_context(session.begin())
            await apply_event(session, workspace_id, contact_id, event, deps.clock())
    except ContactNotFound:
        return False
    except IntegrityError:
        pass  # another delivery stored the same event first: it stands
    return True

"""``run_turn``: one customer message in, a reply and lifecycle actions out.

The same function serves the HTTP API, the CLI and the eval runner. Around the agent's turn
(answer.py) it keeps the delivery promises: a message is stored before anything else, a repeat
gets the original response, one contact's messages are answered one turn at a time in the order
the customer sent them, and a burst of quick messages gets one reply.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from agent_service.agent.answer import answer_messages
from agent_service.agent.deps import AgentDeps
from agent_service.agent.outcome import AlreadyAnswered
from agent_service.conversations import inbox
from agent_service.conversations.rate_limits import RateLimits
from agent_service.delivery.outbox import idempotency_key
from agent_service.schemas.delivery import MessageAccepted
from agent_service.schemas.messages import InboundMessage, MessageResponse


class StillProcessing(TimeoutError):
    """The original delivery of a repeated message is still being answered."""


async def run_turn(
    deps: AgentDeps,
    workspace_id: str,
    inbound: InboundMessage,
    limits: RateLimits | None = None,
) -> MessageResponse:
    """Store the message, then answer it once; a repeat gets the stored response.

    With ``limits`` (the API's) a new message is charged against the rate limits as it is
    stored, or refused with RateLimited and not stored; a repeat is never refused.
    """
    if limits is None or limits.has_room(workspace_id, inbound.contact.id):
        # The embedding overlaps the storing and reads; a message the limits are known to
        # refuse costs none.
        deps.query_batcher.prefetch(inbound.text)
    received = await _store(deps, workspace_id, inbound, respond_async=False, limits=limits)
    if not received.duplicate:
        # Shielded: a dropped request must not abort the turn half-way; the turn runs on.
        turn = deps.turn_tasks.spawn(
            process_contact(deps, workspace_id, received.contact_row_id, inbound.contact.id)
        )
        answered = await asyncio.shield(turn)
        if received.message_row_id in answered:  # this request's turn answered it: no re-read
            return answered[received.message_row_id]
    stored = await inbox.stored_response(
        deps.sessions, received.message_row_id, deps.settings.duplicate_wait_seconds
    )
    if stored is None:
        raise StillProcessing("the original delivery of this message is still being processed")
    return MessageResponse.model_validate(stored)


async def accept_message(
    deps: AgentDeps,
    workspace_id: str,
    inbound: InboundMessage,
    limits: RateLimits | None = None,
) -> MessageAccepted:
    """Store the message and its callback, answer it in the background; never waits for it."""
    received = await _store(deps, workspace_id, inbound, respond_async=True, limits=limits)
    if not received.duplicate:
        deps.turn_tasks.spawn(
            process_contact(deps, workspace_id, received.contact_row_id, inbound.contact.id)
        )
    else:
        deps.outbox_ready.set()  # a repeat of an answered message may have made its callback due
    return MessageAccepted(
        message_id=inbound.message_id,
        idempotency_key=idempotency_key(inbound.channel, inbound.message_id),
    )


async def _store(
    deps: AgentDeps,
    workspace_id: str,
    inbound: InboundMessage,
    respond_async: bool,
    limits: RateLimits | None,
) -> inbox.Received:
    return await inbox.receive(
        deps.sessions,
        workspace_id,
        inbound,
        deps.clock(),
        respond_async=respond_async,
        gate=deps.write_gate,
        limits=limits,
    )


async def process_contact(
    deps: AgentDeps, workspace_id: str, contact_row_id: str, contact_key: str
) -> dict[str, MessageResponse]:
    """Answer every stored, unanswered message of the contact, one turn at a time.

    Whoever holds the contact's lock answers what is waiting, oldest ``sent_at`` first; with a
    burst window, what arrived together is answered together. A worker that finds nothing
    waiting (another one answered its message) returns at once. Returns the responses it
    stored, by message row id.
    """
    stored: dict[str, MessageResponse] = {}
    async with deps.contact_locks.hold(workspace_id, contact_key):
        await _let_burst_settle(deps, contact_row_id)
        async with deps.sessions() as session:
            waiting = await inbox.unanswered(session, contact_row_id)
        if not waiting:
            return stored
        batches = [waiting] if deps.settings.burst_window_seconds > 0 else [[m] for m in waiting]
        slots = deps.turn_tasks.slots(deps.settings.max_concurrent_turns)
        for batch in batches:
            try:
                async with slots:
                    answered = await answer_messages(deps, workspace_id, batch)
            except AlreadyAnswered:
                continue  # another process (or recovery) saved it first; its answer stands
            stored.update(answered.responses)
            if answered.callbacks_due:
                deps.outbox_ready.set()
    return stored


async def _let_burst_settle(deps: AgentDeps, contact_row_id: str) -> None:
    """Wait until no new message of the contact arrived for one window (bounded)."""
    window, longest = deps.settings.burst_window_seconds, deps.settings.burst_max_wait_seconds
    if window <= 0:
        return
    seen, newest = await inbox.count_unanswered(deps.sessions, contact_row_id)
    if newest is None or newest < deps.clock() - timedelta(seconds=window + longest):
        return  # sent long ago (a replay, or recovery after a restart): the burst is over
    waited = 0.0
    while waited < longest:
        await deps.sleep(window)
        waited += window
        now_seen, _ = await inbox.count_unanswered(deps.sessions, contact_row_id)
        if now_seen == seen:
            return
        seen = now_seen

"""``run_turn``: one customer message in, a reply and lifecycle actions out.

The same function serves the HTTP API, the CLI and the eval runner. Around the agent's turn
(answer.py) it keeps the delivery promises: a message is stored before anything else, a repeat
gets the original response, one contact's messages are answered one turn at a time in the order
the customer sent them, and a burst of quick messages gets one reply.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from agent_service.agent.answer import Answered, answer_messages
from agent_service.agent.deps import AgentDeps
from agent_service.agent.fallback import answer_failed
from agent_service.agent.outcome import AlreadyAnswered, save_failed_attempt
from agent_service.agent.usage import ModelUsage
from agent_service.conversations import inbox
from agent_service.conversations.leases import LeaseLost
from agent_service.conversations.rate_limits import RateLimits
from agent_service.core.tracing import traced
from agent_service.db import models
from agent_service.delivery.outbox import idempotency_key
from agent_service.schemas.delivery import MessageAccepted
from agent_service.schemas.messages import InboundMessage, MessageResponse

log = logging.getLogger("agent_service.turn")


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
    stored, or refused with RateLimited and not stored; a repeat is never refused. In a process
    that answers nothing itself (``AgentDeps.store_only``) the caller waits for the answer a
    turn worker stores, like a repeat.
    """
    if deps.answers_here and (limits is None or limits.has_room(workspace_id, inbound.contact.id)):
        # The caller waits for the answer: its embedding overlaps the storing and reads; a
        # message the limits are known to refuse costs none.
        deps.query_batcher.prefetch(inbound.text)
    received = await traced(
        "turn.store",
        deps.intake.receive(workspace_id, inbound, respond_async=False, charge=limits is not None),
    )
    if not received.duplicate and deps.answers_here:
        # Shielded: a dropped request must not abort the turn half-way; the turn runs on.
        turn = _spawn_turn(deps, workspace_id, inbound, received)
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
    """Store the message and its callback, answer it in the background; never waits for it.

    Nothing but the store happens before the acknowledgement: the embedding waits for the
    turn's slot, so a spike's acknowledgements never queue behind its turns' work."""
    received = await traced(
        "turn.store",
        deps.intake.receive(workspace_id, inbound, respond_async=True, charge=limits is not None),
    )
    if received.duplicate:
        deps.outbox_ready.set()  # a repeat of an answered message may have made its callback due
    elif deps.answers_here:  # else a turn worker finds it in the database
        _spawn_turn(deps, workspace_id, inbound, received)
    return MessageAccepted(
        message_id=inbound.message_id,
        idempotency_key=idempotency_key(inbound.channel, inbound.message_id),
    )


def _spawn_turn(
    deps: AgentDeps, workspace_id: str, inbound: InboundMessage, received: inbox.Received
) -> asyncio.Task[dict[str, MessageResponse]]:
    """The contact's worker, started for the message just stored."""
    return deps.turn_tasks.spawn(
        process_contact(
            deps,
            workspace_id,
            received.contact_row_id,
            inbound.contact.id,
            received.message_row_id,
            leased=received.leased,
        )
    )


async def process_contact(
    deps: AgentDeps,
    workspace_id: str,
    contact_row_id: str,
    contact_key: str,
    message_row_id: str | None = None,
    leased: bool = False,
) -> dict[str, MessageResponse]:
    """Answer every stored, unanswered message of the contact, one turn at a time.

    Whoever holds the contact's lock (in this process) and its lease (among replicas) answers
    what is waiting, oldest ``sent_at`` first; with a burst window, what arrived together is
    answered together. A worker that finds nothing waiting (another one answered its message)
    returns at once. A worker started for ``message_row_id`` that finds another replica's lease
    on the contact waits until that replica answered the message or let the lease go; the sweep
    (``message_row_id`` None) leaves the contact to the lease holder. ``leased``: the store
    took the lease for this worker (one hold of it). Each turn waits for a slot, shared fairly
    between workspaces (agent/turn_slots.py). Returns the responses it stored, by message row
    id.
    """
    stored: dict[str, MessageResponse] = {}
    async with deps.contact_locks.hold(workspace_id, contact_key):
        if not leased and not await _take_lease(deps, contact_row_id, message_row_id):
            return stored
        try:
            await _let_burst_settle(deps, contact_row_id)
            async with deps.sessions() as session:
                waiting = await inbox.unanswered(session, contact_row_id)
            queue = deque(_batches(deps, waiting))
            while queue:
                batch = queue.popleft()
                try:
                    answered = await _answer(deps, workspace_id, batch, queue)
                except LeaseLost:
                    break
                if answered is None:
                    continue
                stored.update(answered.responses)
                if answered.callbacks_due:
                    deps.outbox_ready.set()
        finally:
            # Another worker of this process waits for the contact: the lease stays, for it.
            keep = deps.contact_locks.users(workspace_id, contact_key) > 1
            if not keep:
                deps.intake.forget(contact_row_id)
            try:
                await deps.turn_leases.release(
                    deps.sessions, deps.write_gate, contact_row_id, keep=keep
                )
            except Exception:  # it expires by itself; the turn's outcome stands
                log.exception(
                    "could not free the contact's lease",
                    extra={"fields": _ids(workspace_id, contact_row_id, [])},
                )
    return stored


def _batches(deps: AgentDeps, waiting: list[models.Message]) -> list[list[models.Message]]:
    """One turn per message, or (with a burst window) per run of fresh messages: a message
    whose turn failed before is answered alone, never folded into its neighbours' turn."""
    if deps.settings.burst_window_seconds <= 0:
        return [[m] for m in waiting]
    batches: list[list[models.Message]] = []
    fresh: list[models.Message] = []
    for message in waiting:
        if not message.attempt_log:
            fresh.append(message)
            continue
        if fresh:
            batches.append(fresh)
            fresh = []
        batches.append([message])
    if fresh:
        batches.append(fresh)
    return batches


async def _answer(
    deps: AgentDeps,
    workspace_id: str,
    batch: list[models.Message],
    queue: deque[list[models.Message]],
) -> Answered | None:
    """One attempt at the batch's turn. On failure the attempt is recorded (and its model
    calls charged) and the batch's messages go back to the front of ``queue``, one by one, to
    be tried again after their back-off; after the last attempt, the fallback answers."""
    first, settings = batch[0], deps.settings
    if len(batch) == 1 and len(first.attempt_log or []) >= settings.turn_max_attempts:
        return await _fall_back(deps, workspace_id, first)
    if len(batch) == 1 and first.retry_at is not None:
        await _wait_until(deps, first.retry_at)
    usage = ModelUsage()
    await deps.intake.wait_idle()  # acknowledgements first: they are what a spike waits for
    try:
        async with deps.turn_slots.hold(workspace_id):
            return await answer_messages(
                deps, workspace_id, batch, usage, partial(_still_leased, deps, first.contact_id)
            )
    except AlreadyAnswered:
        return None  # another process (or recovery) saved it first; its answer stands
    except LeaseLost:
        raise
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"
        attempt = len(first.attempt_log or []) + 1
        log.warning(
            "turn attempt failed",
            exc_info=exc,
            extra={
                "fields": {
                    **_ids(workspace_id, first.contact_id, batch),
                    "attempt": attempt,
                    "max_attempts": settings.turn_max_attempts,
                    "model_calls": usage.calls,
                    "error": error[:500],
                }
            },
        )
        failed = await save_failed_attempt(
            deps.sessions,
            workspace_id,
            [m.id for m in batch],
            error,
            usage,
            deps.clock(),
            deps.turn_leases.replica,
            partial(_retry_delay, deps),
            deps.write_gate,
        )
    if failed is None:
        return None  # answered meanwhile by another worker
    again = []
    for message in batch:
        if message.id in failed:
            message.attempt_log, message.retry_at = failed[message.id]
            again.append([message])
    queue.extendleft(reversed(again))
    return None


async def _fall_back(
    deps: AgentDeps, workspace_id: str, message: models.Message
) -> Answered | None:
    """Every attempt failed: answer with the fallback, mark the message failed."""
    attempt_log = list(message.attempt_log or [])
    fields = {
        **_ids(workspace_id, message.contact_id, [message]),
        "attempts": len(attempt_log),
        "error": str(attempt_log[-1].get("error", ""))[:500] if attempt_log else None,
    }
    try:
        answered = await answer_failed(deps, workspace_id, message, attempt_log)
    except AlreadyAnswered:
        return None
    except Exception as exc:
        # Left "received" with a later retry_at: the sweep tries the fallback (not the model)
        # again then.
        log.exception("the fallback for a failed message failed too", extra={"fields": fields})
        failed = await save_failed_attempt(
            deps.sessions,
            workspace_id,
            [message.id],
            f"fallback failed: {type(exc).__name__}: {exc}",
            ModelUsage(),
            deps.clock(),
            deps.turn_leases.replica,
            partial(_retry_delay, deps),
            deps.write_gate,
        )
        if failed is not None:
            message.attempt_log, message.retry_at = failed[message.id]
        return None
    log.error("message failed: answered with the fallback", extra={"fields": fields})
    return answered


def _retry_delay(deps: AgentDeps, attempts: int) -> float:
    """Seconds before attempt ``attempts`` + 1: doubling from the base, capped."""
    settings = deps.settings
    return float(
        min(
            settings.turn_retry_max_seconds,
            settings.turn_retry_base_seconds * 2 ** max(0, attempts - 1),
        )
    )


async def _wait_until(deps: AgentDeps, when: datetime) -> None:
    delay = (when - deps.clock()).total_seconds()
    if delay > 0:
        await deps.sleep(min(delay, deps.settings.turn_retry_max_seconds))


async def _take_lease(deps: AgentDeps, contact_row_id: str, message_row_id: str | None) -> bool:
    """Take the contact's lease; a worker started for a message waits while another replica
    holds it and the message is still unanswered (that replica answers it, or lets go)."""
    poll = min(0.5, deps.settings.turn_lease_seconds / 10)
    leases = deps.turn_leases
    while True:
        if await leases.take(deps.sessions, deps.write_gate, contact_row_id):
            return True
        if message_row_id is None or not await inbox.is_waiting(deps.sessions, message_row_id):
            return False
        await asyncio.sleep(poll)


async def _still_leased(deps: AgentDeps, contact_row_id: str) -> None:
    """Right before the model call: however long the turn waited (a slot, retrieval, a
    connection), the model is called only under a lease that is still this replica's; one
    another replica adopted meanwhile is answered there (LeaseLost stops this worker)."""
    if not await deps.turn_leases.ensure(deps.front, deps.write_gate, contact_row_id):
        raise LeaseLost(contact_row_id)


def _ids(workspace_id: str, contact_row_id: str, batch: list[models.Message]) -> dict[str, Any]:
    """What a log line about a turn names: workspace, contact and messages (row ids: never
    redacted; the channel's message ids beside them)."""
    return {
        "workspace_id": workspace_id,
        "contact_row_id": contact_row_id,
        "message_row_ids": [m.id for m in batch],
        "message_ids": [m.channel_message_id for m in batch],
    }


async def _let_burst_settle(deps: AgentDeps, contact_row_id: str) -> None:
    """Wait until no new message of the contact arrived for one window (bounded).

    A contact whose messages this process stored is watched in memory (``Intake.arrived``):
    no query while a spike's thousand workers wait out their windows. One adopted from
    elsewhere (the sweep) is watched by counting its waiting messages."""
    window, longest = deps.settings.burst_window_seconds, deps.settings.burst_max_wait_seconds
    if window <= 0:
        return

    async def arrivals() -> tuple[int, datetime | None]:
        known = deps.intake.arrived(contact_row_id)
        if known is not None:
            return known
        return await inbox.count_unanswered(deps.sessions, contact_row_id)

    seen, newest = await arrivals()
    if newest is None or newest < deps.clock() - timedelta(seconds=window + longest):
        return  # sent long ago (a replay, or recovery after a restart): the burst is over
    waited = 0.0
    while waited < longest:
        await deps.sleep(window)
        waited += window
        now_seen, _ = await arrivals()
        if now_seen == seen:
            return
        seen = now_seen

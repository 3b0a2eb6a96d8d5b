"""A turn's outcome, written in one transaction, only if no other worker answered first; and
a failed attempt's record (why, what it cost), so the retries of a turn are bounded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agent.context import ToolContext
from agent_service.agent.usage import ModelUsage, add_usage
from agent_service.core import metrics
from agent_service.core.ids import new_id
from agent_service.core.search import contact_search_text
from agent_service.core.text import storable
from agent_service.db import models
from agent_service.db.write_gate import WriteGate
from agent_service.delivery.outbox import fill_callbacks
from agent_service.lifecycle.history import add_stage_change
from agent_service.reports.sources import note_first_reply
from agent_service.schemas.brains import BRAINS, Brain
from agent_service.schemas.messages import MessageResponse


@dataclass
class TurnRecord:
    """Everything a turn decided, written in one transaction."""

    turn_id: str
    brain: Brain
    model: str
    prompt_version: str
    usage: ModelUsage
    latency_ms: float
    error: str | None
    retrieval: str | None = None  # schemas.retrieval.RetrievalStatus


# A turn's save is on the latency path of every message, and building an SQLAlchemy statement
# costs more than running it (87 us against 13 us for the claim): the hot statements are built
# once, and the values come as parameters. Core tables, not ORM entities: an ORM-enabled UPDATE
# also walks the session for objects to synchronize.
_messages = cast(Table, models.Message.__table__)
_contacts = cast(Table, models.Contact.__table__)
_CLAIM = update(_messages).where(
    _messages.c.id == bindparam("claimed_id"), _messages.c.status == "received"
)
_UPDATE_CONTACT = update(_contacts).where(_contacts.c.id == bindparam("contact_row_id"))
_INSERT_MESSAGE = insert(_messages)
_INSERT_TURN = insert(cast(Table, models.Turn.__table__))


class AlreadyAnswered(Exception):
    """Another worker (another process, or recovery) answered these messages first."""


AnsweredStatus = Literal["processed", "failed"]


async def _claim(
    session: AsyncSession,
    responses: dict[str, MessageResponse],
    turn_id: str | None,
    language: str | None = None,
    status: AnsweredStatus = "processed",
) -> None:
    """Mark the messages answered, only if they are still waiting: the database decides."""
    detected = {"language": language} if language else {}
    for message_id, response in responses.items():
        result = await session.execute(
            _CLAIM,
            {
                "claimed_id": message_id,
                "status": status,
                "retry_at": None,
                "turn_id": turn_id,
                "response": response.model_dump(mode="json", by_alias=True),
                **detected,
            },
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise AlreadyAnswered(message_id)


async def save_silent(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    responses: dict[str, MessageResponse],
    now: datetime,
    gate: WriteGate,
) -> bool:
    """Record the silent answers; True when callbacks became due."""
    async with gate.hold(), sessions() as session, session.begin():
        await _claim(session, responses, None)
        due = await fill_callbacks(session, workspace_id, responses, now)
    metrics.TURNS.labels("none", "silent").inc()
    return due


async def save_turn(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    contact_row_id: str,
    ctx: ToolContext,
    record: TurnRecord,
    responses: dict[str, MessageResponse],
    reply_channel: str,
    gate: WriteGate,
    status: AnsweredStatus = "processed",
) -> bool:
    """Apply the turn: reply, contact, stage history, handoff (or the call-back details of an
    open one), turn log, the responses and the callbacks they owe. Raises
    ``AlreadyAnswered`` (and writes nothing) when beaten to it. Returns True when callbacks
    became due.

    ``status`` ``failed``: the fallback of a message every attempt failed at; the usage of
    those attempts was charged as each failed (``save_failed_attempt``), so it is recorded on
    the turn but not charged again."""
    now = ctx.now
    answered = list(responses.values())[-1]
    async with gate.hold(), sessions() as session, session.begin():
        await _claim(session, responses, record.turn_id, ctx.language, status)
        state = ctx.contact
        # Phone and e-mail only when the customer gave them for a call-back this turn: the
        # message's own store may have just refreshed them from the channel's profile.
        reach = (
            {
                "phone": state.phone,
                "email": state.email,
                "search_text": contact_search_text(state.name, state.phone, state.email),
            }
            if ctx.callback is not None
            else {}
        )
        await session.execute(
            _UPDATE_CONTACT,
            {
                **reach,
                "contact_row_id": contact_row_id,
                "lifecycle_stage": state.lifecycle_stage,
                "lost": state.lost,
                "lost_reason": state.lost_reason,
                "owner": state.owner,
                "assigned_to": state.assigned_to,
                "fields": dict(state.fields),
                "pending_field": state.pending_field,
                "language": ctx.language,
                "updated_at": now,
            },
        )
        # The turn first: the stage changes, approvals and handoff below refer to it.
        await session.execute(
            _INSERT_TURN,
            {
                "id": record.turn_id,
                "workspace_id": workspace_id,
                "contact_id": contact_row_id,
                "inbound_message_id": list(responses)[-1],
                "brain": record.brain,
                "model": record.model,
                "prompt_version": record.prompt_version,
                "model_calls": record.usage.calls,
                "input_tokens": record.usage.input_tokens,
                "output_tokens": record.usage.output_tokens,
                "latency_ms": record.latency_ms,
                "retrieved": [
                    {"id": h.id, "score": h.score, "question": h.question} for h in ctx.retrieved
                ],
                "tool_calls": [t.as_dict() for t in ctx.tool_log],
                "error": record.error,
                "retrieval": record.retrieval,
                "created_at": now,
            },
        )
        if answered.reply is not None:
            await session.execute(
                _INSERT_MESSAGE,
                {
                    "id": new_id("msg"),
                    "workspace_id": workspace_id,
                    "contact_id": contact_row_id,
                    "direction": "out",
                    "channel": reply_channel,
                    "channel_message_id": None,
                    "text": answered.reply.text,
                    "language": answered.reply.language,
                    "sent_at": now,
                    "source": None,
                    "status": "processed",
                    "turn_id": record.turn_id,
                    "created_at": now,
                },
            )
            # A Core insert passes by the roll-ups' flush hook: record the reply as it would.
            await session.run_sync(
                lambda orm: note_first_reply(orm.connection(), contact_row_id, now)
            )
        for d in ctx.stage_decisions:  # the contact's stage is in the update above
            add_stage_change(
                session,
                workspace_id=workspace_id,
                contact_id=contact_row_id,
                kind=d.kind,
                from_stage=d.from_stage,
                to_stage=d.to_stage,
                actor="ai",
                reason=d.reason,
                evidence=d.evidence,
                now=now,
                confidence=d.confidence,
                prompt_version=record.prompt_version,
                model=record.model,
                turn_id=record.turn_id,
            )
        for d in ctx.pending_approvals:  # Stage moves waiting for a human
            session.add(
                models.PendingApproval(
                    id=new_id("apr"),
                    workspace_id=workspace_id,
                    contact_id=contact_row_id,
                    kind=d.kind,
                    from_stage=d.from_stage,
                    to_stage=d.to_stage,
                    reason=d.reason,
                    evidence=d.evidence,
                    confidence=d.confidence,
                    prompt_version=record.prompt_version,
                    model=record.model,
                    turn_id=record.turn_id,
                    status="pending",
                    created_at=now,
                )
            )
        if ctx.handoff is not None:
            session.add(
                models.Handoff(
                    id=new_id("ho"),
                    workspace_id=workspace_id,
                    contact_id=contact_row_id,
                    team=ctx.handoff.team,
                    reason=ctx.handoff.reason,
                    summary=ctx.handoff.summary,
                    turn_id=record.turn_id,
                    created_at=now,
                )
            )
        if ctx.callback is not None and ctx.callback.handoff_id is not None:
            # The call-back details go where the team reads the handoff it already has.
            await session.execute(
                update(models.Handoff)
                .where(models.Handoff.id == ctx.callback.handoff_id)
                .values(summary=ctx.callback.summary)
            )
        if status == "processed":
            await add_usage(session, workspace_id, now.date(), record.usage)
        due = await fill_callbacks(session, workspace_id, responses, now)
    _count_turn(record, "replied" if status == "processed" else "fallback")
    return due


def _count_turn(record: TurnRecord, outcome: str) -> None:
    """The saved turn's metrics: its outcome and how long it took."""
    brain = metrics.bounded(record.brain, BRAINS)
    metrics.TURNS.labels(brain, outcome).inc()
    metrics.TURN_DURATION.labels(brain).observe(record.latency_ms / 1000)


async def save_failed_attempt(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    message_ids: list[str],
    error: str,
    usage: ModelUsage,
    now: datetime,
    replica: str,
    delay_after: Callable[[int], float],
    gate: WriteGate,
) -> dict[str, tuple[list[dict[str, Any]], datetime]] | None:
    """Record a failed attempt at the turn of these messages, and charge its model calls (the
    turn's save that would have charged them did not happen). ``delay_after(n)``: seconds
    before attempt n + 1. Returns each message's attempt log and when it may be tried again;
    None (and nothing written) when they were answered meanwhile: whoever answered them
    charged what it spent."""
    entry = {
        "at": now.isoformat(),
        "error": storable(error)[:2000],
        "model_calls": usage.calls,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "replica": replica,
    }
    logs: dict[str, tuple[list[dict[str, Any]], datetime]] = {}
    async with gate.hold(), sessions() as session, session.begin():
        rows = await session.execute(
            select(_messages.c.id, _messages.c.attempt_log).where(
                _messages.c.id.in_(message_ids), _messages.c.status == "received"
            )
        )
        for message_id, attempt_log in rows.all():
            log = [*(attempt_log or []), entry]
            retry_at = now + timedelta(seconds=delay_after(len(log)))
            await session.execute(
                update(_messages)
                .where(_messages.c.id == message_id, _messages.c.status == "received")
                .values(attempt_log=log, error=entry["error"], retry_at=retry_at)
            )
            logs[message_id] = (log, retry_at)
        if not logs:
            return None
        await add_usage(session, workspace_id, now.date(), usage)
    metrics.TURNS.labels("none", "attempt_failed").inc()
    return logs

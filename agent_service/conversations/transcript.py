"""A contact's conversation read back: every message in order, each reply with its turn's trace.

The trace is what the turn's own save wrote (agent/outcome.py: the ``turns`` row and the
handoff it opened), shown as stored: the knowledge entries retrieved with their scores, the
brain, model and prompt versions, every tool call with its arguments and the guardrails'
decision, the latency, model calls and tokens. Nothing is reconstructed. Three queries,
whatever the length of the conversation: the messages, the contact's turns, its handoffs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.conversations.events import ContactNotFound
from agent_service.conversations.listing import contact_row, sources_up_to_date, summaries
from agent_service.db import models
from agent_service.schemas.contacts import (
    Conversation,
    ConversationEntry,
    HandoffTrace,
    RetrievedTrace,
    ToolCallTrace,
    TurnTrace,
)


async def conversation(session: AsyncSession, workspace_id: str, external_id: str) -> Conversation:
    """The contact (by its channel-side id) and its transcript, oldest first."""
    await sources_up_to_date(session, workspace_id)
    row = await contact_row(session, workspace_id, external_id)
    if row is None:
        raise ContactNotFound(external_id)
    message = models.Message
    messages = await session.scalars(
        select(message)
        .where(message.contact_id == row.id)
        .order_by(message.created_at, message.direction, message.sent_at, message.id)
    )
    turns = {
        t.id: t for t in await session.scalars(select(models.Turn).filter_by(contact_id=row.id))
    }
    handoffs = {
        h.turn_id: h
        for h in await session.scalars(
            select(models.Handoff)
            .where(models.Handoff.contact_id == row.id, models.Handoff.turn_id.is_not(None))
            .order_by(models.Handoff.created_at)
        )
    }
    entries = []
    for m in messages:
        turn = turns.get(m.turn_id or "") if m.direction == "out" else None
        entries.append(
            ConversationEntry(
                message_id=m.channel_message_id,
                direction="out" if m.direction == "out" else "in",
                channel=m.channel,
                text=m.text,
                at=m.created_at,
                status=m.status if m.status in ("received", "failed") else "processed",
                turn=trace(turn, handoffs.get(turn.id)) if turn is not None else None,
            )
        )
    [contact] = await summaries(session, [row])
    return Conversation(contact=contact, entries=entries)


def trace(turn: models.Turn, handoff: models.Handoff | None) -> TurnTrace:
    """The turn's row as the API shows it."""
    return TurnTrace(
        turn_id=turn.id,
        brain=turn.brain,
        model=turn.model,
        prompt_versions=prompt_versions(turn.prompt_version),
        retrieved=[
            RetrievedTrace(
                entry_id=str(hit.get("id", "")),
                question=str(hit.get("question", "")),
                score=float(hit.get("score") or 0.0),
            )
            for hit in turn.retrieved or []
        ],
        tool_calls=[tool_call(call) for call in turn.tool_calls or []],
        handoff=HandoffTrace(team=handoff.team, summary=handoff.summary) if handoff else None,
        latency_ms=turn.latency_ms,
        model_calls=turn.model_calls,
        input_tokens=turn.input_tokens,
        output_tokens=turn.output_tokens,
        retrieval=turn.retrieval,
        error=turn.error,
    )


def prompt_versions(label: str) -> dict[str, int]:
    """``phrases@1+system@3`` (prompts/templates.py ``version_label``) as ``{name: version}``."""
    versions: dict[str, int] = {}
    for part in label.split("+"):
        name, _, version = part.rpartition("@")
        if name and version.isdigit():
            versions[name] = int(version)
    return versions


def tool_call(call: dict[str, Any]) -> ToolCallTrace:
    """A stored tool call (agent/context.py ``ToolCallRecord``): ``applied`` with what it did;
    ``refused`` by a policy (``refused: why``) or never run (``error: why``), both refused."""
    status, result = call.get("status"), call.get("result")
    args = call.get("args")
    reason = str(result) if result is not None else None
    if status == "refused" and reason is not None:
        reason = reason.removeprefix("refused: ")
    return ToolCallTrace(
        name=str(call.get("name", "")),
        args=args if isinstance(args, dict) else {},
        decision="applied" if status == "applied" else "refused",
        reason=reason,
    )

"""What a case's conversation left behind, read back from the service's stored rows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models


@dataclass
class TurnView:
    """One customer message, the reply (if any), and what the turn did and cost."""

    contact: str
    text: str
    owner_before: str
    reply: str | None = None
    language: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    retrieved: list[dict[str, Any]] = field(default_factory=list)
    brain: str | None = None
    model: str | None = None
    prompt_version: str | None = None
    latency_ms: float = 0.0
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None
    needs_knowledge: str | None = None
    kind: str = "message"


@dataclass
class EventView:
    contact: str
    event: dict[str, Any]
    result: dict[str, Any] | None = None
    error: str | None = None
    kind: str = "event"


@dataclass
class ContactView:
    """The contact's stored record after the conversation."""

    external_id: str
    stage: str
    lost: bool
    lost_reason: str | None
    owner: str
    assigned_to: str | None
    fields: dict[str, Any]
    stage_changes: list[dict[str, Any]]
    handoffs: list[dict[str, Any]]


@dataclass
class Observation:
    """Everything expectations are checked against."""

    transcript: list[TurnView | EventView] = field(default_factory=list)
    contacts: dict[str, ContactView] = field(default_factory=dict)
    canary: str | None = None

    @property
    def turns(self) -> list[TurnView]:
        return [t for t in self.transcript if isinstance(t, TurnView)]

    def as_json(self) -> list[dict[str, Any]]:
        return [asdict(t) for t in self.transcript]


async def read_turn(session: AsyncSession, view: TurnView, turn_id: str | None) -> None:
    """Fill a turn view from the ``turns`` row, with the retrieved entries' answers."""
    if turn_id is None:
        return
    turn = await session.get(models.Turn, turn_id)
    if turn is None:
        return
    ids = [r["id"] for r in turn.retrieved]
    entries = {
        e.id: e
        for e in await session.scalars(
            select(models.KnowledgeEntry).where(models.KnowledgeEntry.id.in_(ids))
        )
    }
    view.retrieved = [
        {
            **r,
            "answer": entries[r["id"]].answer if r["id"] in entries else "",
            "tags": list(entries[r["id"]].tags or []) if r["id"] in entries else [],
        }
        for r in turn.retrieved
    ]
    # The reply as stored and sent, not as returned: expectations check what was kept.
    sent = await session.scalar(select(models.Message).filter_by(turn_id=turn_id, direction="out"))
    view.reply = sent.text if sent is not None else None
    view.language = sent.language if sent is not None else None
    view.tool_calls = list(turn.tool_calls)
    view.brain, view.model, view.prompt_version = turn.brain, turn.model, turn.prompt_version
    view.latency_ms, view.model_calls = turn.latency_ms, turn.model_calls
    view.input_tokens, view.output_tokens, view.error = (
        turn.input_tokens,
        turn.output_tokens,
        turn.error,
    )


async def read_contact(
    session: AsyncSession, workspace_id: str, external_id: str
) -> ContactView | None:
    contact = await session.scalar(
        select(models.Contact).filter_by(workspace_id=workspace_id, external_id=external_id)
    )
    if contact is None:
        return None
    changes = await session.scalars(
        select(models.StageChange)
        .filter_by(contact_id=contact.id)
        .order_by(models.StageChange.created_at, models.StageChange.id)
    )
    handoffs = await session.scalars(
        select(models.Handoff).filter_by(contact_id=contact.id).order_by(models.Handoff.created_at)
    )
    return ContactView(
        external_id=external_id,
        stage=contact.lifecycle_stage,
        lost=contact.lost,
        lost_reason=contact.lost_reason,
        owner=contact.owner,
        assigned_to=contact.assigned_to,
        fields=dict(contact.fields or {}),
        stage_changes=[
            {
                "kind": c.kind,
                "from": c.from_stage,
                "to": c.to_stage,
                "actor": c.actor,
                "reason": c.reason,
            }
            for c in changes
        ],
        handoffs=[{"team": h.team, "reason": h.reason, "summary": h.summary} for h in handoffs],
    )


async def owner_of(session: AsyncSession, workspace_id: str, external_id: str) -> str:
    contact = await session.scalar(
        select(models.Contact).filter_by(workspace_id=workspace_id, external_id=external_id)
    )
    return contact.owner if contact is not None else "ai"

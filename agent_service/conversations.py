"""Stored conversations: inbound messages first, then each turn's outcome in one transaction."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agent.context import ContactState, ToolContext
from agent_service.db import models
from agent_service.ids import new_id
from agent_service.schemas.messages import ContactSummary, InboundMessage, MessageResponse


@dataclass(frozen=True)
class Received:
    """An inbound message as stored; ``duplicate`` when the channel sent it before."""

    message_row_id: str
    contact_row_id: str
    duplicate: bool


@dataclass
class TurnRecord:
    """Everything a turn decided, written in one transaction."""

    turn_id: str
    brain: str
    model: str
    prompt_version: str
    model_calls: int
    input_tokens: int
    output_tokens: int
    latency_ms: float
    error: str | None


async def receive(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    inbound: InboundMessage,
    entry_stage: str,
    now: datetime,
) -> Received:
    """Store the message (and the contact on first contact) before anything else happens."""
    for attempt in range(3):
        try:
            async with sessions() as session, session.begin():
                existing = await session.scalar(
                    select(models.Message).filter_by(
                        workspace_id=workspace_id,
                        channel=inbound.channel,
                        channel_message_id=inbound.message_id,
                    )
                )
                if existing is not None:
                    return Received(existing.id, existing.contact_id, duplicate=True)
                contact = await _contact(session, workspace_id, inbound, entry_stage, now)
                row = models.Message(
                    id=new_id("msg"),
                    workspace_id=workspace_id,
                    contact_id=contact.id,
                    direction="in",
                    channel=inbound.channel,
                    channel_message_id=inbound.message_id,
                    text=inbound.text,
                    sent_at=inbound.sent_at,
                    source=inbound.source,
                    status="received",
                    created_at=now,
                )
                session.add(row)
            return Received(row.id, contact.id, duplicate=False)
        except IntegrityError:
            # A concurrent delivery stored the same message or contact first: look again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _contact(
    session: AsyncSession,
    workspace_id: str,
    inbound: InboundMessage,
    entry_stage: str,
    now: datetime,
) -> models.Contact:
    contact = await session.scalar(
        select(models.Contact).filter_by(workspace_id=workspace_id, external_id=inbound.contact.id)
    )
    given = inbound.contact
    if contact is None:
        contact = models.Contact(
            id=new_id("ct"),
            workspace_id=workspace_id,
            external_id=given.id,
            name=given.name,
            phone=given.phone,
            email=given.email,
            locale=given.locale,
            lifecycle_stage=entry_stage,
            lost=False,
            owner="ai",
            fields={},
            created_at=now,
            updated_at=now,
        )
        session.add(contact)
        await session.flush()  # the stage change below references it
        session.add(
            models.StageChange(
                id=new_id("sc"),
                workspace_id=workspace_id,
                contact_id=contact.id,
                kind="stage",
                from_stage=None,
                to_stage=entry_stage,
                actor="system",
                reason=f"first message on {inbound.channel}",
                evidence=inbound.text[:500],
                created_at=now,
            )
        )
        await session.flush()
        return contact
    # The channel's profile may have changed: keep what it now says, never erase.
    contact.name = given.name or contact.name
    contact.phone = given.phone or contact.phone
    contact.email = given.email or contact.email
    contact.locale = given.locale or contact.locale
    return contact


async def stored_response(
    sessions: async_sessionmaker[AsyncSession], message_row_id: str, wait_seconds: float = 60.0
) -> dict[str, Any] | None:
    """The response recorded for a message, waiting while another worker is still on it."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        async with sessions() as session:
            row = await session.get(models.Message, message_row_id)
            if row is not None and row.response is not None:
                return row.response
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.05)


def contact_state(row: models.Contact) -> ContactState:
    return ContactState(
        external_id=row.external_id,
        name=row.name,
        lifecycle_stage=row.lifecycle_stage,
        lost=row.lost,
        lost_reason=row.lost_reason,
        owner=row.owner,
        assigned_to=row.assigned_to,
        fields=dict(row.fields or {}),
        pending_field=row.pending_field,
        language=row.language,
    )


def contact_summary(state: ContactState) -> ContactSummary:
    return ContactSummary(
        id=state.external_id,
        lifecycle_stage=state.lifecycle_stage,
        lost=state.lost,
        lost_reason=state.lost_reason,
        assigned_to=state.assigned_to,
        owner="human" if state.owner == "human" else "ai",
        fields=state.fields,
    )


async def history(
    session: AsyncSession, contact_row_id: str, before_message_id: str, limit: int
) -> list[models.Message]:
    """The contact's latest messages before this one, oldest first."""
    if limit == 0:
        return []
    rows = (
        await session.scalars(
            select(models.Message)
            .where(
                models.Message.contact_id == contact_row_id,
                models.Message.id != before_message_id,
                (models.Message.direction == "out") | (models.Message.status == "processed"),
            )
            .order_by(models.Message.created_at.desc(), models.Message.direction.desc())
            .limit(limit)
        )
    ).all()
    return list(reversed(rows))


async def save_silent(
    sessions: async_sessionmaker[AsyncSession], message_row_id: str, response: MessageResponse
) -> None:
    async with sessions() as session, session.begin():
        message = await session.get(models.Message, message_row_id)
        assert message is not None
        message.status = "processed"
        message.response = response.model_dump(mode="json", by_alias=True)


async def save_turn(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    received: Received,
    ctx: ToolContext,
    record: TurnRecord,
    response: MessageResponse,
    channel: str,
) -> None:
    """Apply the turn: reply, contact, stage history, handoff, turn log and the response."""
    now = ctx.now
    async with sessions() as session, session.begin():
        message = await session.get(models.Message, received.message_row_id)
        contact = await session.get(models.Contact, received.contact_row_id)
        assert message is not None and contact is not None
        state = ctx.contact
        contact.lifecycle_stage, contact.lost, contact.lost_reason = (
            state.lifecycle_stage,
            state.lost,
            state.lost_reason,
        )
        contact.owner, contact.assigned_to = state.owner, state.assigned_to
        contact.fields, contact.pending_field = dict(state.fields), state.pending_field
        contact.language, contact.updated_at = ctx.language, now
        message.language = ctx.language
        for d in ctx.stage_decisions:
            session.add(
                models.StageChange(
                    id=new_id("sc"),
                    workspace_id=workspace_id,
                    contact_id=contact.id,
                    kind=d.kind,
                    from_stage=d.from_stage,
                    to_stage=d.to_stage,
                    actor="ai",
                    reason=d.reason,
                    evidence=d.evidence,
                    confidence=d.confidence,
                    prompt_version=record.prompt_version,
                    model=record.model,
                    turn_id=record.turn_id,
                    created_at=now,
                )
            )
        for d in ctx.pending_approvals:  # issue 3: stage moves waiting for a human
            session.add(
                models.PendingApproval(
                    id=new_id("apr"),
                    workspace_id=workspace_id,
                    contact_id=contact.id,
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
                    contact_id=contact.id,
                    team=ctx.handoff.team,
                    reason=ctx.handoff.reason,
                    summary=ctx.handoff.summary,
                    turn_id=record.turn_id,
                    created_at=now,
                )
            )
        if response.reply is not None:
            session.add(
                models.Message(
                    id=new_id("msg"),
                    workspace_id=workspace_id,
                    contact_id=contact.id,
                    direction="out",
                    channel=channel,
                    channel_message_id=None,
                    text=response.reply.text,
                    language=response.reply.language,
                    sent_at=now,
                    source=None,
                    status="processed",
                    turn_id=record.turn_id,
                    created_at=now,
                )
            )
        session.add(
            models.Turn(
                id=record.turn_id,
                workspace_id=workspace_id,
                contact_id=contact.id,
                inbound_message_id=message.id,
                brain=record.brain,
                model=record.model,
                prompt_version=record.prompt_version,
                model_calls=record.model_calls,
                input_tokens=record.input_tokens,
                output_tokens=record.output_tokens,
                latency_ms=record.latency_ms,
                retrieved=[
                    {"id": h.id, "score": h.score, "question": h.question} for h in ctx.retrieved
                ],
                tool_calls=[t.as_dict() for t in ctx.tool_log],
                error=record.error,
                created_at=now,
            )
        )
        message.status, message.turn_id = "processed", record.turn_id
        message.response = response.model_dump(mode="json", by_alias=True)

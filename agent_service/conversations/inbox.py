"""Stored conversations: inbound messages first, then each turn's outcome in one transaction."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.conversations.contact_state import ContactState
from agent_service.conversations.rate_limits import Charged, RateLimits
from agent_service.core.clock import stored_datetime
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.db.write_gate import WriteGate
from agent_service.delivery.outbox import ensure_callback, new_callback
from agent_service.lifecycle.history import add_stage_change
from agent_service.schemas.messages import ContactSummary, InboundMessage
from agent_service.workspaces.config import WorkspaceNotFound


@dataclass(frozen=True)
class Received:
    """An inbound message as stored; ``duplicate`` when the channel sent it before."""

    message_row_id: str
    contact_row_id: str
    duplicate: bool


async def receive(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    inbound: InboundMessage,
    now: datetime,
    respond_async: bool = False,
    gate: WriteGate | None = None,
    limits: RateLimits | None = None,
) -> Received:
    """Store the message (and the contact on first contact) before anything else happens.

    The unique key (workspace, channel, message_id) decides which delivery is the original,
    across processes and restarts. With ``respond_async`` a callback row is stored with it.
    With ``limits`` a new message is charged against the shared rate limits in the same
    transaction (RateLimited: nothing stored); a repeat delivery is never charged.
    """
    gate = gate or WriteGate(enabled=False)
    same = select(models.Message).filter_by(
        workspace_id=workspace_id, channel=inbound.channel, channel_message_id=inbound.message_id
    )
    given = inbound.contact
    for attempt in range(3):
        # Reads first, outside the writers' queue; the write below is a few inserts.
        async with sessions() as session:
            existing = await session.scalar(same)
            if existing is not None and not respond_async:
                return Received(existing.id, existing.contact_id, duplicate=True)
            contact = await session.scalar(
                select(models.Contact).filter_by(workspace_id=workspace_id, external_id=given.id)
            )
            entry_stage = None if contact else await _entry_stage(session, workspace_id)
        if existing is None and limits is not None:
            limits.refuse_if_known_empty(workspace_id, given.id, now)
        charged: Charged | None = None
        try:
            async with gate.hold(), sessions() as session, session.begin():
                if existing is not None:
                    await ensure_callback(session, workspace_id, existing, now)
                    return Received(existing.id, existing.contact_id, duplicate=True)
                if contact is None:
                    assert entry_stage is not None
                    contact_id = await _new_contact(
                        session, workspace_id, inbound, entry_stage, now
                    )
                else:
                    contact_id = contact.id
                    await _refresh_profile(session, contact, inbound)
                row = models.Message(
                    id=new_id("msg"),
                    workspace_id=workspace_id,
                    contact_id=contact_id,
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
                if respond_async:
                    await session.flush()
                    session.add(new_callback(workspace_id, row, now))
                if limits is not None:
                    # Last, after the insert met the unique key: a repeat is never charged,
                    # and the buckets stay locked only for the commit.
                    await session.flush()
                    charged = await limits.charge(session, workspace_id, given.id, now)
            if limits is not None and charged is not None:
                limits.remember(charged)  # committed: what it learnt of the buckets holds
            return Received(row.id, contact_id, duplicate=False)
        except (IntegrityError, OperationalError):
            # A concurrent delivery stored the same message or contact first (or another
            # process kept the database busy past its timeout): look again.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _new_contact(
    session: AsyncSession,
    workspace_id: str,
    inbound: InboundMessage,
    entry_stage: str,
    now: datetime,
) -> str:
    given = inbound.contact
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
    add_stage_change(  # the contact was created in its entry stage above
        session,
        workspace_id=workspace_id,
        contact_id=contact.id,
        kind="stage",
        from_stage=None,
        to_stage=entry_stage,
        actor="system",
        reason=f"first message on {inbound.channel}",
        evidence=inbound.text[:500],
        now=now,
    )
    return contact.id


async def _refresh_profile(
    session: AsyncSession, contact: models.Contact, inbound: InboundMessage
) -> None:
    """The channel's profile may have changed: keep what it now says, never erase."""
    given = inbound.contact
    wanted = {
        "name": given.name or contact.name,
        "phone": given.phone or contact.phone,
        "email": given.email or contact.email,
        "locale": given.locale or contact.locale,
    }
    if any(getattr(contact, key) != value for key, value in wanted.items()):
        await session.execute(
            update(models.Contact).where(models.Contact.id == contact.id).values(**wanted)
        )


async def _entry_stage(session: AsyncSession, workspace_id: str) -> str:
    """The first active stage: read alone, so storing a message stays a few small queries."""
    name = await session.scalar(
        select(models.LifecycleStage.name)
        .where(
            models.LifecycleStage.workspace_id == workspace_id,
            models.LifecycleStage.lost.is_(False),
        )
        .order_by(models.LifecycleStage.position)
        .limit(1)
    )
    if name is None:
        raise WorkspaceNotFound(workspace_id)
    return name


async def unanswered(session: AsyncSession, contact_row_id: str) -> list[models.Message]:
    """The contact's stored, not yet answered messages, in the order the customer sent them."""
    rows = await session.scalars(
        select(models.Message)
        .where(
            models.Message.contact_id == contact_row_id,
            models.Message.direction == "in",
            models.Message.status == "received",
        )
        .order_by(models.Message.sent_at, models.Message.created_at, models.Message.id)
    )
    return list(rows.all())


async def count_unanswered(
    sessions: async_sessionmaker[AsyncSession], contact_row_id: str
) -> tuple[int, datetime | None]:
    """How many messages wait, and when the newest of them was sent."""
    async with sessions() as session:
        count, newest = (
            await session.execute(
                select(func.count(), func.max(models.Message.sent_at)).where(
                    models.Message.contact_id == contact_row_id,
                    models.Message.direction == "in",
                    models.Message.status == "received",
                )
            )
        ).one()
    return int(count or 0), stored_datetime(newest)


async def last_answered_sent_at(session: AsyncSession, contact_row_id: str) -> datetime | None:
    """When the newest message already answered was sent: older arrivals are late."""
    value = await session.scalar(
        select(func.max(models.Message.sent_at)).where(
            models.Message.contact_id == contact_row_id,
            models.Message.direction == "in",
            models.Message.status == "processed",
        )
    )
    return stored_datetime(value)


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
        phone=row.phone,
        email=row.email,
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


async def is_waiting(sessions: async_sessionmaker[AsyncSession], message_row_id: str) -> bool:
    """Whether the message is still stored unanswered."""
    async with sessions() as session:
        status = await session.scalar(
            select(models.Message.status).where(models.Message.id == message_row_id)
        )
    return status == "received"


async def recent_messages(
    session: AsyncSession, contact_row_id: str, limit: int
) -> list[models.Message]:
    """The contact's latest ``limit`` messages, both directions, oldest first."""
    rows = await session.scalars(
        select(models.Message)
        .where(models.Message.contact_id == contact_row_id)
        .order_by(models.Message.created_at.desc(), models.Message.direction.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))

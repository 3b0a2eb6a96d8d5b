"""Where each contact came from: the channel and campaign of their first message.

Filled lazily (reports and conversions ask for it), so the inbound path stays untouched. The
first reply is kept current by every outbound write (``note_first_reply``), for the speed report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from agent_service.core.clock import stored_datetime_required
from agent_service.db import models


def _first_inbound(contact_id: Any) -> Any:
    first = aliased(models.Message)  # its own alias: the outer query reads messages too
    return (
        select(first.id)
        .where(first.contact_id == contact_id, first.direction == "in")
        .order_by(first.created_at, first.id)
        .limit(1)
        .scalar_subquery()
    )


async def sync_sources(session: AsyncSession, workspace_id: str) -> None:
    """Record the source of every contact of the workspace that has none yet."""
    contacts = await session.scalar(
        select(func.count()).where(models.Contact.workspace_id == workspace_id)
    )
    recorded = await session.scalar(
        select(func.count()).where(models.ContactSource.workspace_id == workspace_id)
    )
    if contacts == recorded:  # the usual case, answered from two index counts
        return
    missing = (
        await session.scalars(
            select(models.Contact.id)
            .outerjoin(models.ContactSource, models.ContactSource.contact_id == models.Contact.id)
            .where(
                models.Contact.workspace_id == workspace_id,
                models.ContactSource.contact_id.is_(None),
            )
        )
    ).all()
    for start in range(0, len(missing), 500):
        chunk = missing[start : start + 500]
        firsts = (
            await session.scalars(
                select(_first_inbound(models.Contact.id)).where(models.Contact.id.in_(chunk))
            )
        ).all()
        rows = await session.execute(
            select(
                models.Message.contact_id,
                models.Message.channel,
                models.Message.source["campaign"].as_string(),
                models.Message.created_at,
            ).where(models.Message.id.in_([f for f in firsts if f is not None]))
        )
        replies = await _first_replies(session, chunk)
        values = [
            {
                "contact_id": contact_id,
                "workspace_id": workspace_id,
                "channel": channel,
                "campaign": campaign,
                "first_message_at": at,
                **first_reply(at, replies.get(contact_id)),
            }
            for contact_id, channel, campaign, at in rows.all()
        ]
        if values:
            await session.execute(insert(models.ContactSource), values)


async def source_of(session: AsyncSession, contact: models.Contact) -> models.ContactSource | None:
    """The contact's source, recorded on first use."""
    found = await session.get(models.ContactSource, contact.id)
    if found is not None:
        return found
    row = (
        await session.execute(
            select(
                models.Message.channel,
                models.Message.source["campaign"].as_string(),
                models.Message.created_at,
            ).where(models.Message.id == _first_inbound(contact.id))
        )
    ).first()
    if row is None:
        return None
    replies = await _first_replies(session, [contact.id])
    source = models.ContactSource(
        contact_id=contact.id,
        workspace_id=contact.workspace_id,
        channel=row[0],
        campaign=row[1],
        first_message_at=row[2],
        **first_reply(row[2], replies.get(contact.id)),
    )
    session.add(source)
    return source


def first_reply(first_message_at: datetime | None, reply_at: datetime | None) -> dict[str, Any]:
    """The first-reply columns of a source row: when, and how long after the first message."""
    seconds = None
    if first_message_at is not None and reply_at is not None:
        seconds = (reply_at - first_message_at).total_seconds()
    return {"first_reply_at": reply_at, "first_response_seconds": seconds}


async def _first_replies(session: AsyncSession, contact_ids: Sequence[str]) -> dict[str, datetime]:
    msg = models.Message
    rows = await session.execute(
        select(msg.contact_id, func.min(msg.created_at))
        .where(msg.contact_id.in_(contact_ids), msg.direction == "out")
        .group_by(msg.contact_id)
    )
    # min() loses the column type on SQLite: read it back through the column's own type.
    return {c: stored_datetime_required(at) for c, at in rows.all() if at is not None}


# Built once: every reply runs it (see turn_outcome.py).
_FIRST_TIMES = select(
    models.ContactSource.first_message_at, models.ContactSource.first_reply_at
).where(models.ContactSource.contact_id == bindparam("contact_id"))


def note_first_reply(connection: Connection, contact_id: str, sent_at: datetime) -> None:
    """A message went out to the contact: record it if it is the first (same transaction)."""
    src = models.ContactSource
    found = connection.execute(_FIRST_TIMES, {"contact_id": contact_id}).first()
    if found is None:  # no source yet: sync_sources computes the first reply when it records one
        return
    first_message_at, reply_at = found
    if reply_at is not None and reply_at <= sent_at:
        return
    connection.execute(
        update(src)
        .where(
            src.contact_id == contact_id,
            or_(src.first_reply_at.is_(None), src.first_reply_at > sent_at),
        )
        .values(**first_reply(first_message_at, sent_at))
    )


def backfill_first_replies(connection: Connection) -> int:
    """Fill the first-reply columns of every recorded source (the migration's backfill)."""
    src, msg = models.ContactSource, models.Message
    first_out = (
        select(func.min(msg.created_at))
        .where(msg.contact_id == src.contact_id, msg.direction == "out")
        .scalar_subquery()
    )
    rows = connection.execute(
        select(src.contact_id, src.first_message_at, first_out).where(first_out.is_not(None))
    ).all()
    values = [
        {"cid": contact_id, **first_reply(first_at, stored_datetime_required(reply_at))}
        for contact_id, first_at, reply_at in rows
    ]
    for start in range(0, len(values), 10_000):
        connection.execute(
            update(src).where(src.contact_id == bindparam("cid")),
            values[start : start + 10_000],
        )
    return len(values)


def first_message_at(connection: Connection, contact_id: str) -> datetime | None:
    """When the contact's first message arrived (the same instant its source records)."""
    msg = models.Message
    found = connection.scalar(
        select(func.min(msg.created_at)).where(msg.contact_id == contact_id, msg.direction == "in")
    )
    return None if found is None else stored_datetime_required(found)


def note_handoff(connection: Connection, handoff_id: str, contact_id: str, at: datetime) -> None:
    """A handoff was written: record how long after the contact's first message it came."""
    first = first_message_at(connection, contact_id)
    if first is not None:
        connection.execute(
            update(models.Handoff)
            .where(models.Handoff.id == handoff_id)
            .values(minutes_after_first_message=(at - first).total_seconds() / 60)
        )


def backfill_handoff_minutes(connection: Connection) -> int:
    """Fill ``minutes_after_first_message`` of every handoff (the migration's backfill)."""
    ho, src = models.Handoff, models.ContactSource
    # The contacts' sources hold the first message; a handoff of a contact without one (no
    # report ran since) asks the messages.
    rows = connection.execute(
        select(ho.id, ho.contact_id, ho.created_at, src.first_message_at).outerjoin(
            src, src.contact_id == ho.contact_id
        )
    ).all()
    values = []
    for handoff_id, contact_id, at, first in rows:
        first = first or first_message_at(connection, contact_id)
        if first is not None:
            values.append({"hid": handoff_id, "minutes": (at - first).total_seconds() / 60})
    for start in range(0, len(values), 10_000):
        connection.execute(
            update(ho)
            .where(ho.id == bindparam("hid"))
            .values(minutes_after_first_message=bindparam("minutes")),
            values[start : start + 10_000],
        )
    return len(values)

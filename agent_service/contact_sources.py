"""Where each contact came from: the channel and campaign of their first message.

Filled lazily (reports and conversions ask for it), so the message path stays untouched.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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
        values = [
            {
                "contact_id": contact_id,
                "workspace_id": workspace_id,
                "channel": channel,
                "campaign": campaign,
                "first_message_at": at,
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
    source = models.ContactSource(
        contact_id=contact.id,
        workspace_id=contact.workspace_id,
        channel=row[0],
        campaign=row[1],
        first_message_at=row[2],
    )
    session.add(source)
    return source

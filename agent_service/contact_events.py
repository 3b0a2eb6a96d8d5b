"""Conversation events: a human takes a conversation over, or gives it back to the agent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.ids import new_id
from agent_service.schemas.contacts import ContactEventIn, ContactEventResult


class ContactNotFound(LookupError):
    pass


async def apply_event(
    session: AsyncSession, workspace_id: str, external_id: str, event: ContactEventIn, now: datetime
) -> ContactEventResult:
    """Apply one event (the caller commits); a repeated ``event_id`` changes nothing."""
    contact = await session.scalar(
        select(models.Contact).filter_by(workspace_id=workspace_id, external_id=external_id)
    )
    if contact is None:
        raise ContactNotFound(external_id)
    if event.event_id is not None:
        seen = await session.scalar(
            select(models.ContactEvent).filter_by(
                workspace_id=workspace_id, event_id=event.event_id
            )
        )
        if seen is not None:
            return ContactEventResult.model_validate({**seen.response, "duplicate": True})
    if event.type == "human_assigned":
        contact.owner = "human"
        contact.assigned_to = event.team or contact.assigned_to
    else:
        contact.owner = "ai"
        open_handoffs = await session.scalars(
            select(models.Handoff).filter_by(contact_id=contact.id, released_at=None)
        )
        for handoff in open_handoffs:
            handoff.released_at = now
    contact.updated_at = now
    result = ContactEventResult(
        event_id=event.event_id,
        type=event.type,
        duplicate=False,
        owner="human" if contact.owner == "human" else "ai",
        assigned_to=contact.assigned_to,
    )
    session.add(
        models.ContactEvent(
            id=new_id("ev"),
            workspace_id=workspace_id,
            contact_id=contact.id,
            event_id=event.event_id or new_id("auto"),
            type=event.type,
            payload=event.model_dump(mode="json"),
            response=result.model_dump(mode="json"),
            created_at=now,
        )
    )
    return result

"""Events about a contact: conversation events (takeover, release, close, reopen, a human's
stage change) and conversion events (booking, checkout, purchase...) that move the funnel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.clock import stored_datetime
from agent_service.core.errors import Invalid, NotFound
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.lifecycle.conversions import conversion_stages
from agent_service.lifecycle.history import record_stage_change
from agent_service.lifecycle.policy import Lifecycle
from agent_service.reports.sources import source_of
from agent_service.schemas.contacts import ContactEventIn, ContactEventResult
from agent_service.workspaces.config import load_workspace_config


class ContactNotFound(NotFound):
    """The message is the contact's channel-side id."""

    @property
    def detail(self) -> str:
        return f"no contact '{self}' in this workspace"


class EventRejected(Invalid):
    """An event that cannot apply to this workspace (e.g. an unknown stage)."""


async def stored_result(
    session: AsyncSession, workspace_id: str, event_id: str
) -> ContactEventResult | None:
    seen = await session.scalar(
        select(models.ContactEvent).filter_by(workspace_id=workspace_id, event_id=event_id)
    )
    if seen is None:
        return None
    return ContactEventResult.model_validate({**seen.response, "duplicate": True})


async def apply_event(
    session: AsyncSession, workspace_id: str, external_id: str, event: ContactEventIn, now: datetime
) -> ContactEventResult:
    """Apply one event (the caller commits); a repeated ``event_id`` changes nothing.

    Events for a contact the service has never seen are refused (``ContactNotFound``): a
    contact exists once its first message arrived, and nothing is created for an unknown one.
    """
    contact = await session.scalar(
        select(models.Contact).filter_by(workspace_id=workspace_id, external_id=external_id)
    )
    if contact is None:
        raise ContactNotFound(external_id)
    seen = await stored_result(session, workspace_id, event.event_id)
    if seen is not None:
        return seen
    occurred_at = event.occurred_at or now
    changed, note = False, ""
    if event.type == "human_assigned":
        contact.owner = "human"
        contact.assigned_to = event.team or contact.assigned_to
    elif event.type in ("human_released", "conversation_closed", "conversation_reopened"):
        # The agent answers again; handoffs given back block a repeat for the same reason.
        contact.owner = "ai"
        await session.execute(
            update(models.Handoff)
            .where(models.Handoff.contact_id == contact.id, models.Handoff.released_at.is_(None))
            .values(released_at=now)
        )
    else:
        config = await load_workspace_config(session, workspace_id)
        if event.type == "stage_set_by_human":
            changed, note = await _human_stage(session, contact, config.lifecycle, event, now)
        else:
            changed, note = await _conversion(session, contact, config.lifecycle, event, now)
    contact.updated_at = now
    result = ContactEventResult(
        event_id=event.event_id,
        type=event.type,
        duplicate=False,
        owner="human" if contact.owner == "human" else "ai",
        assigned_to=contact.assigned_to,
        lifecycle_stage=contact.lifecycle_stage,
        lost=contact.lost,
        stage_changed=changed,
        note=note,
    )
    session.add(
        models.ContactEvent(
            id=new_id("ev"),
            workspace_id=workspace_id,
            contact_id=contact.id,
            event_id=event.event_id,
            type=event.type,
            payload={**event.model_dump(mode="json"), "occurred_at": occurred_at.isoformat()},
            response=result.model_dump(mode="json"),
            created_at=now,
        )
    )
    return result


async def _last_change_at(session: AsyncSession, contact_id: str) -> datetime | None:
    found = await session.scalar(
        select(func.max(models.StageChange.created_at)).where(
            models.StageChange.contact_id == contact_id
        )
    )
    return stored_datetime(found)  # SQLite returns max() of a timestamp as naive text


def _is_stale(occurred_at: datetime, last_change: datetime | None) -> bool:
    return last_change is not None and occurred_at < last_change


async def _human_stage(
    session: AsyncSession,
    contact: models.Contact,
    lifecycle: Lifecycle,
    event: ContactEventIn,
    now: datetime,
) -> tuple[bool, str]:
    stage = lifecycle.find(event.stage or "")
    if stage is None:
        names = ", ".join(s.name for s in lifecycle.stages)
        raise EventRejected(f"unknown stage '{event.stage}'; stages are: {names}")
    occurred_at = event.occurred_at or now
    if _is_stale(occurred_at, await _last_change_at(session, contact.id)):
        return False, "not applied: the contact's stage changed after this event happened"
    if stage.name == contact.lifecycle_stage:
        return False, f"already in '{stage.name}'"
    record_stage_change(
        session,
        contact,
        to_stage=stage.name,
        lost=stage.lost,
        lost_reason=(event.reason or stage.name) if stage.lost else None,
        actor="human",
        reason=event.reason or "",
        evidence=_evidence(event),
        now=now,
    )
    return True, f"moved to '{stage.name}'"


async def _conversion(
    session: AsyncSession,
    contact: models.Contact,
    lifecycle: Lifecycle,
    event: ContactEventIn,
    now: datetime,
) -> tuple[bool, str]:
    occurred_at = event.occurred_at or now
    source = await source_of(session, contact)
    session.add(
        models.Conversion(
            id=new_id("cv"),
            workspace_id=contact.workspace_id,
            contact_id=contact.id,
            event_id=event.event_id,
            type=event.type,
            value=event.value,
            currency=event.currency,
            channel=event.channel or (source.channel if source else None),
            campaign=event.campaign or (source.campaign if source else None),
            occurred_at=occurred_at,
            created_at=now,
        )
    )
    workspace = await session.get(models.Workspace, contact.workspace_id)
    assert workspace is not None
    target_name = conversion_stages(workspace, lifecycle).get(event.type)
    target = lifecycle.find(target_name) if target_name else None
    if target is None:
        return False, f"recorded; '{event.type}' is not mapped to a stage"
    current = lifecycle.find(contact.lifecycle_stage)
    if contact.lost:
        # A purchase after the lead was written off revives it; an older one does not.
        if _is_stale(occurred_at, await _last_change_at(session, contact.id)):
            return False, "recorded; the contact was marked lost after this event happened"
    elif current is not None and target.position <= current.position:
        return False, f"recorded; '{contact.lifecycle_stage}' is already at or past '{target.name}'"
    value = f" {event.value:g} {event.currency}" if event.value is not None else ""
    record_stage_change(
        session,
        contact,
        to_stage=target.name,
        lost=False,
        lost_reason=None,
        actor="system",
        reason=f"conversion event {event.type}{value}",
        evidence=_evidence(event),
        now=now,
    )
    return True, f"moved to '{target.name}'"


def _evidence(event: ContactEventIn) -> str:
    return f"event {event.type} {event.event_id}" + (
        f" at {event.occurred_at.isoformat()}" if event.occurred_at else ""
    )

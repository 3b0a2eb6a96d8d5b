"""What a due follow-up checks and does: cancel, write the nudge, or mark the lead cold."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.config import Settings
from agent_service.db import models
from agent_service.lifecycle.history import record_stage_change
from agent_service.workspaces.config import WorkspaceConfig

# Used when a workspace's stored phrases predate the follow-up phrases.
_FALLBACK = {
    "follow_up": "Hi{name}, just checking in: are you still interested? I'm happy to help.",
    "follow_up_last": "Hi{name}, this is my last message for now. If you'd still like help "
    "from {business_name}, just reply here anytime.",
}


async def cancel_reason(
    session: AsyncSession, config: WorkspaceConfig, contact: models.Contact, row: models.FollowUp
) -> str | None:
    """Why this step must not run any more, or None."""
    newest = await session.scalar(
        select(models.Message.id)
        .where(models.Message.contact_id == contact.id, models.Message.direction == "in")
        .order_by(models.Message.created_at.desc(), models.Message.id.desc())
        .limit(1)
    )
    if newest != row.anchor_message_id:
        return "the customer wrote again"
    if contact.owner == "human":
        return "a human owns the conversation"
    if contact.lost:
        return f"already marked lost ({contact.lifecycle_stage})"
    if contact.lifecycle_stage == config.lifecycle.active[-1].name:
        return f"already in {contact.lifecycle_stage}"
    closing = await session.scalar(
        select(models.ContactEvent)
        .where(
            models.ContactEvent.contact_id == contact.id,
            models.ContactEvent.type.in_(("conversation_closed", "conversation_reopened")),
        )
        .order_by(models.ContactEvent.created_at.desc())
        .limit(1)
    )
    if (
        closing is not None
        and closing.type == "conversation_closed"
        and closing.created_at >= row.silence_started_at
    ):
        return "the conversation was closed"
    return None


def nudge_text(config: WorkspaceConfig, contact: models.Contact, last: bool) -> tuple[str, str]:
    """The nudge in the contact's language, repeating the question still open, if any."""
    language = contact.language or config.default_language
    key = "follow_up_last" if last else "follow_up"
    name = f" {contact.name}" if contact.name else ""
    text = config.prompts.phrase(key, language, name=name, business_name=config.name)
    if not text:
        text = _FALLBACK[key].format(name=name, business_name=config.name)
    pending = next(
        (f for f in config.qualification.fields if f.name == contact.pending_field), None
    )
    if pending is not None and not last and pending.name not in (contact.fields or {}):
        text = f"{text} {pending.question_in(language)}"
    return text, language


async def mark_cold(
    session: AsyncSession,
    settings: Settings,
    config: WorkspaceConfig,
    contact: models.Contact,
    row: models.FollowUp,
    anchor: models.Message,
    now: datetime,
) -> None:
    """The last nudge went unanswered: the lead is lost to silence (actor system)."""
    stage = config.lifecycle.find(settings.followup_cold_stage) or config.lifecycle.lost[0]
    sent = await session.scalar(
        select(models.FollowUp.id)
        .where(
            models.FollowUp.contact_id == contact.id,
            models.FollowUp.anchor_message_id == anchor.id,
            models.FollowUp.status == "sent",
        )
        .limit(1)
    )
    nudges = len(settings.followup_delays_minutes)
    reason = (
        f"no reply after {nudges} follow-up(s)"
        if sent is not None
        else "no reply, and the messaging window closed before a follow-up could be sent"
    )
    record_stage_change(
        session,
        contact,
        to_stage=stage.name,
        lost=True,
        lost_reason=reason,
        actor="system",
        reason=reason,
        evidence=f"last customer message at {anchor.created_at.isoformat()}: {anchor.text[:200]}",
        now=now,
    )

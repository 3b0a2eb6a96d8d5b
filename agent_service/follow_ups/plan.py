"""Follow-ups when an active lead goes quiet, then the Cold Lead mark.

Each step of one silence is a row (unique per contact, anchor message and step), so plans
survive restarts and two schedulers cannot plan a step twice. A due row is claimed with
``UPDATE ... WHERE status = 'pending'`` in the transaction that writes the nudge: of two
workers, exactly one sees rowcount 1 and sends. Everything the customer or a human did since
the row was planned is checked at send time, so the turn code needs no hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.core.config import Settings
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.follow_ups.sender import FollowUpSender, Nudge, nudge_callback
from agent_service.follow_ups.steps import cancel_reason, mark_cold, nudge_text
from agent_service.workspaces.config import WorkspaceConfig, load_workspace_config


@dataclass
class FollowUpRun:
    """What one pass did."""

    planned: int = 0
    sent: int = 0
    cancelled: int = 0
    skipped: int = 0
    marked_cold: int = 0
    delivery_errors: int = 0
    queued: int = 0  # nudges handed to the callback outbox
    nudges: list[Nudge] = field(default_factory=list)


async def run_follow_ups(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    sender: FollowUpSender,
    now: datetime,
    workspace_id: str | None = None,
) -> FollowUpRun:
    """Plan follow-ups for leads that went quiet, then process every due step once.

    For one workspace when ``workspace_id`` is given (an admin's run), else for all of them
    (the scheduler's tick)."""
    run = FollowUpRun()
    run.planned = await plan_follow_ups(sessions, settings, now, workspace_id)
    mine = [] if workspace_id is None else [models.FollowUp.workspace_id == workspace_id]
    async with sessions() as session:
        due = (
            await session.scalars(
                select(models.FollowUp.id)
                .where(models.FollowUp.status == "pending", models.FollowUp.due_at <= now, *mine)
                .order_by(models.FollowUp.due_at)
                .limit(settings.followup_batch_size)
            )
        ).all()
    for row_id in due:
        await _process(sessions, settings, row_id, now, run)
    for nudge in run.nudges:
        try:
            await sender.send(nudge)
        except Exception as exc:  # any failure is recorded on the row, never retried
            run.delivery_errors += 1
            async with sessions() as session, session.begin():
                row = await session.get(models.FollowUp, nudge.follow_up_id)
                if row is not None:
                    row.delivery_error = f"{type(exc).__name__}: {exc}"[:500]
    return run


async def plan_follow_ups(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    now: datetime,
    workspace_id: str | None = None,
) -> int:
    """Plan the first nudge for each active lead whose last message was the agent's reply."""
    if not settings.followup_delays_minutes:
        return 0
    horizon = now - timedelta(
        minutes=settings.followup_delays_minutes[-1] + settings.followup_cold_after_minutes
    )
    async with sessions() as session:
        candidates: list[models.Contact] = []
        # Per workspace, so the (workspace_id, updated_at) index bounds the scan.
        workspaces = (
            [workspace_id]
            if workspace_id is not None
            else (await session.scalars(select(models.Workspace.id))).all()
        )
        for each in workspaces:
            candidates += (
                await session.scalars(
                    select(models.Contact).where(
                        models.Contact.workspace_id == each,
                        models.Contact.updated_at >= horizon,
                        models.Contact.owner == "ai",
                        models.Contact.lost.is_(False),
                    )
                )
            ).all()
        configs: dict[str, WorkspaceConfig] = {}
        plans: list[models.FollowUp] = []
        for contact in candidates:
            if contact.workspace_id not in configs:
                configs[contact.workspace_id] = await load_workspace_config(
                    session, contact.workspace_id
                )
            if contact.lifecycle_stage == configs[contact.workspace_id].lifecycle.active[-1].name:
                continue  # a customer already: nothing to chase
            plan = await _first_step(session, settings, contact, now)
            if plan is not None:
                plans.append(plan)
    planned = 0
    for plan in plans:
        try:
            async with sessions() as session, session.begin():
                session.add(plan)
            planned += 1
        except IntegrityError:
            pass  # another scheduler planned the same step first
    return planned


async def _first_step(
    session: AsyncSession, settings: Settings, contact: models.Contact, now: datetime
) -> models.FollowUp | None:
    anchor = await latest_inbound(session, contact.id)
    if anchor is None or anchor.status != "processed":
        return None
    exists = await session.scalar(
        select(models.FollowUp.id).filter_by(contact_id=contact.id, anchor_message_id=anchor.id)
    )
    if exists is not None:
        return None
    # The silence starts with the agent's reply (a turn's message), not with our own nudges.
    reply_at = await session.scalar(
        select(models.Message.created_at)
        .where(
            models.Message.contact_id == contact.id,
            models.Message.direction == "out",
            models.Message.turn_id.is_not(None),
            models.Message.created_at >= anchor.created_at,
        )
        .order_by(models.Message.created_at.desc())
        .limit(1)
    )
    if reply_at is None:
        return None
    return step_row(settings, contact, anchor, reply_at, 1, now)


def step_row(
    settings: Settings,
    contact: models.Contact,
    anchor: models.Message,
    silence_started_at: datetime,
    step: int,
    now: datetime,
) -> models.FollowUp:
    """Step ``step`` of a silence: a nudge for 1..N, the cold-lead mark for N+1."""
    delays = settings.followup_delays_minutes
    nudge = step <= len(delays)
    minutes = delays[step - 1] if nudge else delays[-1] + settings.followup_cold_after_minutes
    return models.FollowUp(
        id=new_id("fu"),
        workspace_id=contact.workspace_id,
        contact_id=contact.id,
        anchor_message_id=anchor.id,
        step=step,
        kind="nudge" if nudge else "cold",
        channel=anchor.channel,
        silence_started_at=silence_started_at,
        due_at=silence_started_at + timedelta(minutes=minutes),
        status="pending",
        outcome="",
        created_at=now,
    )


async def latest_inbound(session: AsyncSession, contact_id: str) -> models.Message | None:
    found: models.Message | None = await session.scalar(
        select(models.Message)
        .where(models.Message.contact_id == contact_id, models.Message.direction == "in")
        .order_by(models.Message.created_at.desc(), models.Message.id.desc())
        .limit(1)
    )
    return found


async def _process(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    row_id: str,
    now: datetime,
    run: FollowUpRun,
) -> None:
    async with sessions() as session, session.begin():
        claimed = await session.execute(
            update(models.FollowUp)
            .where(models.FollowUp.id == row_id, models.FollowUp.status == "pending")
            .values(status="claimed", processed_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return  # another worker has it
        row = await session.get(models.FollowUp, row_id)
        contact = await session.get(models.Contact, row.contact_id) if row else None
        anchor = await session.get(models.Message, row.anchor_message_id) if row else None
        assert row is not None and contact is not None and anchor is not None
        config = await load_workspace_config(session, contact.workspace_id)
        reason = await cancel_reason(session, config, contact, row)
        if reason is not None:
            row.status, row.outcome = "cancelled", reason
            run.cancelled += 1
            return
        if row.kind == "cold":
            await mark_cold(session, settings, config, contact, row, anchor, now)
            row.status, row.outcome = "done", f"marked {contact.lifecycle_stage}"
            run.marked_cold += 1
            return
        session.add(step_row(settings, contact, anchor, row.silence_started_at, row.step + 1, now))
        window = settings.followup_messaging_window_hours.get(row.channel)
        if window is not None and now > anchor.created_at + timedelta(hours=window):
            row.status = "skipped"
            row.outcome = f"outside the {row.channel} messaging window ({window:g}h)"
            run.skipped += 1
            return
        last = row.step == len(settings.followup_delays_minutes)
        text, language = nudge_text(config, contact, last)
        message = models.Message(
            id=new_id("msg"),
            workspace_id=contact.workspace_id,
            contact_id=contact.id,
            direction="out",
            channel=row.channel,
            channel_message_id=None,
            text=text,
            language=language,
            sent_at=now,
            source={"follow_up": row.id, "step": row.step},
            status="processed",
            created_at=now,
        )
        session.add(message)
        row.status, row.outcome, row.message_id = "sent", "nudge sent", message.id
        workspace = await session.get(models.Workspace, contact.workspace_id)
        callback = (workspace.settings or {}).get("callback_url") if workspace else None
        run.sent += 1
        nudge = Nudge(
            workspace_id=contact.workspace_id,
            contact_id=contact.external_id,
            channel=row.channel,
            text=text,
            language=language,
            step=row.step,
            last=last,
            follow_up_id=row.id,
            message_id=message.id,
            callback_url=callback or settings.followup_callback_url,
        )
        delivery = await session.get(models.DeliverySettings, contact.workspace_id)
        if delivery is not None and delivery.callback_url:
            # The workspace's callback: the outbox signs it and retries until acknowledged,
            # in this same transaction, so a nudge is never lost nor owed twice.
            await session.flush()
            session.add(nudge_callback(nudge, now))
            run.queued += 1
        elif nudge.callback_url:
            # The legacy URL setting: the same outbox, so the nudge is retried too (unsigned).
            await session.flush()
            session.add(nudge_callback(nudge, now, nudge.callback_url))
            run.queued += 1
        else:
            run.nudges.append(nudge)

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from agent_service.api.deps import AgentDepsDep, SessionDep, require
from agent_service.api.errors import ERROR_RESPONSES
from agent_service.db import models
from agent_service.follow_ups.plan import run_follow_ups
from agent_service.follow_ups.sender import CallbackFollowUpSender, FollowUpSender
from agent_service.schemas.follow_ups import FollowUpPublic, FollowUpRunResult
from agent_service.workspaces.api_keys import Principal

router = APIRouter(prefix="/v1/followups", tags=["follow-ups"])
AdminKey = Annotated[Principal, Depends(require("admin"))]


async def follow_up_sender(request: Request) -> FollowUpSender:
    """The app's sender (tests put a recording one on ``app.state``), else the callback one."""
    sender: FollowUpSender | None = getattr(request.app.state, "follow_up_sender", None)
    if sender is None:
        sender = CallbackFollowUpSender()
        request.app.state.follow_up_sender = sender
    return sender


@router.post("/run", response_model=FollowUpRunResult, responses=ERROR_RESPONSES)
async def run_due_follow_ups(
    principal: AdminKey,
    deps: AgentDepsDep,
    sender: Annotated[FollowUpSender, Depends(follow_up_sender)],
) -> FollowUpRunResult:
    """Plan and send the follow-ups due now, on the service clock (the server also runs this
    every `followup_poll_seconds`, for every workspace). Safe to call from several workers at
    once: each step is claimed by exactly one. Acts on the caller's workspace only."""
    run = await run_follow_ups(
        deps.sessions, deps.settings, sender, deps.clock(), principal.workspace_id
    )
    if run.queued:
        deps.outbox_ready.set()  # the dispatcher sends the nudges now
    return FollowUpRunResult(
        planned=run.planned,
        sent=run.sent,
        cancelled=run.cancelled,
        skipped=run.skipped,
        marked_cold=run.marked_cold,
        delivery_errors=run.delivery_errors,
    )


@router.get("", response_model=list[FollowUpPublic], responses=ERROR_RESPONSES)
async def list_follow_ups(
    principal: AdminKey,
    session: SessionDep,
    contact: Annotated[str | None, Query(description="A contact's channel-side id.")] = None,
    status: Annotated[str | None, Query(description="pending, sent, cancelled...")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[FollowUpPublic]:
    """The workspace's follow-up steps, newest first."""
    query = (
        select(models.FollowUp, models.Contact.external_id)
        .join(models.Contact, models.Contact.id == models.FollowUp.contact_id)
        .where(models.FollowUp.workspace_id == principal.workspace_id)
        .order_by(models.FollowUp.created_at.desc(), models.FollowUp.step.desc())
        .limit(limit)
    )
    if contact is not None:
        query = query.where(models.Contact.external_id == contact)
    if status is not None:
        query = query.where(models.FollowUp.status == status)
    rows = (await session.execute(query)).all()
    return [
        FollowUpPublic(
            id=f.id,
            contact_id=external_id,
            step=f.step,
            kind=f.kind,
            channel=f.channel,
            due_at=f.due_at,
            status=f.status,
            outcome=f.outcome,
            message_id=f.message_id,
            delivery_error=f.delivery_error,
            processed_at=f.processed_at,
        )
        for f, external_id in rows
    ]

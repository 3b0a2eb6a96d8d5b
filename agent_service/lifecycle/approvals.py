"""Stage moves the AI proposed into stages that need a human's approval: approve or reject."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.errors import Conflict
from agent_service.db import models
from agent_service.lifecycle.history import record_stage_change


class ApprovalConflict(Conflict):
    pass


async def list_approvals(
    session: AsyncSession, workspace_id: str, status: str | None
) -> list[models.PendingApproval]:
    query = select(models.PendingApproval).filter_by(workspace_id=workspace_id)
    if status:
        query = query.filter_by(status=status)
    rows = await session.scalars(query.order_by(models.PendingApproval.created_at))
    return list(rows.all())


async def get_approval(
    session: AsyncSession, workspace_id: str, approval_id: str
) -> models.PendingApproval | None:
    return await session.scalar(
        select(models.PendingApproval).filter_by(workspace_id=workspace_id, id=approval_id)
    )


async def decide(
    session: AsyncSession,
    approval: models.PendingApproval,
    approve: bool,
    key_id: str,
    now: datetime,
) -> None:
    """Apply (approve) or drop (reject) the proposed move; either way it is no longer pending."""
    if approval.status != "pending":
        raise ApprovalConflict(f"this request was already {approval.status}")
    if approve:
        contact = await session.get(models.Contact, approval.contact_id)
        assert contact is not None
        if contact.lost:
            raise ApprovalConflict(
                f"the contact is marked lost ({contact.lifecycle_stage}) now; reject this request"
            )
        stage = await session.scalar(
            select(models.LifecycleStage).filter_by(
                workspace_id=approval.workspace_id, name=approval.to_stage
            )
        )
        if stage is None:
            raise ApprovalConflict(
                f"stage '{approval.to_stage}' no longer exists; reject this request"
            )
        lost = approval.kind == "lost"  # else a stage move: the contact is not lost (above)
        record_stage_change(
            session,
            contact,
            to_stage=stage.name,
            lost=lost,
            lost_reason=approval.reason if lost else contact.lost_reason,
            # The AI made the decision; a human let it through.
            actor="ai",
            reason=f"{approval.reason} (approved by key {key_id})",
            evidence=approval.evidence,
            now=now,
            confidence=approval.confidence,
            prompt_version=approval.prompt_version,
            model=approval.model,
            turn_id=approval.turn_id,
        )
    approval.status = "approved" if approve else "rejected"
    approval.decided_by, approval.decided_at = key_id, now
    await session.flush()

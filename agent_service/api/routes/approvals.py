"""AI stage moves waiting for a human: list, approve, reject."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from agent_service.api.deps import AdminKey, ClockDep, SessionDep, UnitOfWorkDep
from agent_service.api.errors import documented, not_found
from agent_service.db import models
from agent_service.lifecycle import approvals
from agent_service.schemas.stages import ApprovalPublic

router = APIRouter(prefix="/v1/approvals", tags=["stages"])
NOT_FOUND = "No such approval request in this workspace."


async def _public(session: SessionDep, row: models.PendingApproval) -> ApprovalPublic:
    contact = await session.get(models.Contact, row.contact_id)
    assert contact is not None
    return ApprovalPublic.model_validate(
        {
            **{c: getattr(row, c) for c in ApprovalPublic.model_fields if c != "contact_id"},
            "contact_id": contact.external_id,
        }
    )


@router.get("", response_model=list[ApprovalPublic], responses=documented())
async def list_approvals(
    principal: AdminKey,
    session: SessionDep,
    status: Annotated[Literal["pending", "approved", "rejected"] | None, Query()] = "pending",
) -> list[ApprovalPublic]:
    """Requests, oldest first (pending ones by default)."""
    rows = await approvals.list_approvals(session, principal.workspace_id, status)
    return [await _public(session, r) for r in rows]


async def _decide(
    approval_id: str, approve: bool, principal: AdminKey, clock: ClockDep, uow: UnitOfWorkDep
) -> ApprovalPublic:
    row = await approvals.get_approval(uow.session, principal.workspace_id, approval_id)
    if row is None:
        raise not_found(f"approval '{approval_id}'")
    now = clock()
    await approvals.decide(uow.session, row, approve, principal.key_id, now)
    uow.audit(
        principal,
        action="approval.approve" if approve else "approval.reject",
        target_type="approval",
        target_id=row.id,
        before={"status": "pending"},
        after={"status": row.status, "to_stage": row.to_stage},
        now=now,
    )
    return await _public(uow.session, row)


@router.post(
    "/{approval_id}/approve",
    response_model=ApprovalPublic,
    responses=documented(not_found=NOT_FOUND, conflict="Already decided, or no longer possible."),
)
async def approve(
    approval_id: str, principal: AdminKey, clock: ClockDep, uow: UnitOfWorkDep
) -> ApprovalPublic:
    """Apply the AI's proposed move; it is recorded with its original evidence."""
    return await _decide(approval_id, True, principal, clock, uow)


@router.post(
    "/{approval_id}/reject",
    response_model=ApprovalPublic,
    responses=documented(not_found=NOT_FOUND, conflict="Already decided."),
)
async def reject(
    approval_id: str, principal: AdminKey, clock: ClockDep, uow: UnitOfWorkDep
) -> ApprovalPublic:
    """Drop the proposed move; the contact stays where it is."""
    return await _decide(approval_id, False, principal, clock, uow)

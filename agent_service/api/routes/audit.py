"""The audit log: every configuration change, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from agent_service.api.deps import AdminKey, SessionDep
from agent_service.api.errors import documented
from agent_service.db import models
from agent_service.schemas.audit import AuditEntryPublic, AuditPage

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage, responses=documented())
async def list_audit(
    principal: AdminKey,
    session: SessionDep,
    target_type: Annotated[
        str | None, Query(examples=["knowledge_entry"], description="prompt, stage, team...")
    ] = None,
    target_id: Annotated[str | None, Query()] = None,
    action: Annotated[str | None, Query(examples=["prompt.activate"])] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    """Who (key id) changed what, when, with the value before and after."""
    where = [models.AuditEntry.workspace_id == principal.workspace_id]
    for column, value in (
        (models.AuditEntry.target_type, target_type),
        (models.AuditEntry.target_id, target_id),
        (models.AuditEntry.action, action),
    ):
        if value is not None:
            where.append(column == value)
    total = await session.scalar(select(func.count()).select_from(models.AuditEntry).where(*where))
    rows = await session.scalars(
        select(models.AuditEntry)
        .where(*where)
        .order_by(models.AuditEntry.created_at.desc(), models.AuditEntry.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return AuditPage(
        items=[
            AuditEntryPublic(
                id=r.id,
                key_id=r.key_id,
                action=r.action,
                target_type=r.target_type,
                target_id=r.target_id,
                before=r.before,
                after=r.after,
                at=r.created_at,
            )
            for r in rows
        ],
        total=int(total or 0),
        offset=offset,
        limit=limit,
    )

"""Segments: contacts currently in each stage, and the list of one stage for a broadcast."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle
from agent_service.reports.query import ReportQuery
from agent_service.schemas.reports import ReportMeta, SegmentContact, SegmentCount, SegmentsReport


async def segments_report(
    session: AsyncSession,
    query: ReportQuery,
    lifecycle: Lifecycle,
    stage: str | None,
    limit: int,
    meta: ReportMeta,
) -> SegmentsReport:
    """Current stages (the period, when given, filters on the contact's last activity)."""
    ct, src = models.Contact, models.ContactSource
    grouped = await (await session.connection()).execute(
        query.scoped(
            select(ct.lifecycle_stage, func.count()).where(ct.workspace_id == query.workspace_id),
            ct.id,
            ct.updated_at,
        ).group_by(ct.lifecycle_stage)
    )
    counted: dict[str, int] = {stage: n for stage, n in grouped.all()}
    ordered = lifecycle.active + lifecycle.lost
    counts = [
        SegmentCount(stage=s.name, lost=s.lost, contacts=int(counted.get(s.name, 0)))
        for s in ordered
    ]
    contacts: list[SegmentContact] = []
    truncated = False
    if stage is not None:
        # Only the columns the list shows (not whole contacts with their JSON fields).
        rows = (
            await (await session.connection()).execute(
                query.scoped(
                    select(
                        ct.external_id,
                        ct.name,
                        ct.phone,
                        ct.email,
                        ct.language,
                        ct.lifecycle_stage,
                        ct.lost_reason,
                        src.channel,
                        src.campaign,
                        ct.updated_at,
                    )
                    .outerjoin(src, src.contact_id == ct.id)
                    .where(ct.workspace_id == query.workspace_id, ct.lifecycle_stage == stage),
                    ct.id,
                    ct.updated_at,
                )
                .order_by(ct.updated_at.desc(), ct.id)
                .limit(limit + 1)
            )
        ).all()
        truncated = len(rows) > limit
        fields = list(SegmentContact.model_fields)
        contacts = [SegmentContact(**dict(zip(fields, row, strict=True))) for row in rows[:limit]]
    return SegmentsReport(
        meta=meta, counts=counts, stage=stage, contacts=contacts, truncated=truncated
    )

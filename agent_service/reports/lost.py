"""Lost stages on their own: how many, why, from which stage, month by month."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.reports.query import ReportQuery, month_of
from agent_service.schemas.reports import LostCount, LostMonth, LostReport, LostRow, ReportMeta


async def lost_report(session: AsyncSession, query: ReportQuery, meta: ReportMeta) -> LostReport:
    """Every lost mark made in the period (by the AI, a person or the follow-up timer)."""
    sc = models.StageChange
    base = query.scoped(
        select().where(sc.workspace_id == query.workspace_id, sc.kind == "lost"),
        sc.contact_id,
        sc.created_at,
    )
    grouped = (
        await (await session.connection()).execute(
            base.add_columns(sc.to_stage, sc.reason, sc.from_stage, func.count())
            .group_by(sc.to_stage, sc.reason, sc.from_stage)
            .order_by(func.count().desc(), sc.to_stage, sc.reason)
        )
    ).all()
    rows = [LostRow(stage=s, reason=r, from_stage=f, count=n) for s, r, f, n in grouped]
    by_stage: Counter[str] = Counter()
    for row in rows:
        by_stage[row.stage] += row.count
    month = month_of(sc.created_at, session.get_bind().dialect.name)
    months = (
        await (await session.connection()).execute(
            base.add_columns(month, sc.to_stage, func.count())
            .group_by(month, sc.to_stage)
            .order_by(month, sc.to_stage)
        )
    ).all()
    return LostReport(
        meta=meta,
        total=sum(by_stage.values()),
        by_stage=[LostCount(stage=s, count=n) for s, n in by_stage.most_common()],
        rows=rows,
        over_time=[LostMonth(month=m, stage=s, count=n) for m, s, n in months],
    )

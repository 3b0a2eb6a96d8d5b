"""The active funnel: who entered each stage, how many went further, how long they stayed."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.lifecycle import Lifecycle
from agent_service.reports.query import ReportQuery, as_datetime, hours, percentile
from agent_service.schemas.reports import FunnelReport, FunnelStage, ReportMeta


async def funnel_report(
    session: AsyncSession, query: ReportQuery, lifecycle: Lifecycle, meta: ReportMeta
) -> FunnelReport:
    """Entered = contacts with a move into the stage in the period (first message included).

    Reached next = of those, contacts that later entered any later active stage (at any time,
    so a cohort is followed past the period's end). Time in stage = from entering it to the
    contact's next stage change or lost mark; stays still open are left out.
    """
    sc = models.StageChange
    changes = (
        select(
            sc.contact_id,
            sc.kind,
            sc.to_stage,
            sc.created_at,
            func.lead(sc.created_at)
            .over(partition_by=sc.contact_id, order_by=(sc.created_at, sc.id))
            .label("next_at"),
        )
        .where(sc.workspace_id == query.workspace_id, *query.contact_filter(sc.contact_id))
        .subquery()
    )
    rows = select(changes).where(changes.c.kind == "stage")
    if query.start is not None:
        rows = rows.where(changes.c.created_at >= query.start)
    active = lifecycle.active
    position = {s.name: i for i, s in enumerate(active)}
    entered: dict[str, dict[str, datetime]] = defaultdict(dict)  # stage -> contact -> first entry
    latest_position: dict[str, list[tuple[datetime, int]]] = defaultdict(list)
    stays: dict[str, list[float]] = defaultdict(list)
    for contact_id, _kind, to_stage, created, next_at in (await session.execute(rows)).all():
        created = as_datetime(created)
        assert created is not None
        if to_stage not in position:
            continue
        latest_position[contact_id].append((created, position[to_stage]))
        if query.end is not None and created >= query.end:
            continue
        first = entered[to_stage].get(contact_id)
        if first is None or created < first:
            entered[to_stage][contact_id] = created
        ended = as_datetime(next_at)
        if ended is not None:
            stays[to_stage].append(hours(ended, created))
    stages: list[FunnelStage] = []
    for stage in active:
        cohort = entered[stage.name]
        here = position[stage.name]
        went_on = sum(
            1
            for contact_id, at in cohort.items()
            if any(p > here and t >= at for t, p in latest_position[contact_id])
        )
        last = here == len(active) - 1
        stages.append(
            FunnelStage(
                stage=stage.name,
                entered=len(cohort),
                reached_next=0 if last else went_on,
                conversion_rate=None if last or not cohort else round(went_on / len(cohort), 4),
                median_hours_in_stage=percentile(stays[stage.name], 50),
                p90_hours_in_stage=percentile(stays[stage.name], 90),
            )
        )
    return FunnelReport(meta=meta, stages=stages)

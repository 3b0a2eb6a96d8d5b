"""The active funnel: who entered each stage, how many went further, how long they stayed."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle
from agent_service.lifecycle.stays import later_stages_text
from agent_service.reports.query import (
    ReportQuery,
    partitioned_percentiles,
    walked_percentiles,
)
from agent_service.schemas.reports import FunnelReport, FunnelStage, ReportMeta


async def funnel_report(
    session: AsyncSession, query: ReportQuery, lifecycle: Lifecycle, meta: ReportMeta
) -> FunnelReport:
    """Entered = contacts with a move into the stage in the period (first message included).

    Reached next = of those, contacts that later entered any later active stage (at any time,
    so a cohort is followed past the period's end). Time in stage = from entering it to the
    contact's next stage change or lost mark; stays still open are left out.

    Read from the stage stays (one row per stage change, see ``stage_stays``): one pass for the
    counts of every stage, then the percentiles in the database.
    """
    st = models.StageStay
    names = [s.name for s in lifecycle.active]
    connection = await session.connection()
    entries: list[ColumnElement[bool]] = [
        st.stage.in_(names),
        st.kind == "stage",
        *query.rows(st.workspace_id, st.contact_id, st.entered_at),
    ]
    # A contact counts once: at its first entry in the period (none before it, or before the
    # period started); that entry sees every stage the contact reached afterwards.
    first_entry = (
        st.previous_entry_at.is_(None)
        if query.start is None
        else or_(st.previous_entry_at.is_(None), st.previous_entry_at < query.start)
    )
    went_on = [
        (
            (st.stage == name)
            & or_(
                *(st.later_stages.contains(later_stages_text([n]), autoescape=True) for n in later)
            ),
            1,
        )
        for i, name in enumerate(names)
        if (later := names[i + 1 :])
    ]
    counted = {
        stage: (int(entered or 0), int(reached or 0), int(ended or 0))
        for stage, entered, reached, ended in await connection.execute(
            select(
                st.stage,
                func.sum(case((first_entry, 1), else_=0)),
                func.sum(case((first_entry, case(*went_on, else_=0) if went_on else 0), else_=0)),
                func.count(st.hours),
            )
            .where(*entries)
            .group_by(st.stage)
        )
    }
    if query.filtered:  # the filtered contacts' stays, numbered in one sort
        timed = await partitioned_percentiles(connection, st.hours, st.stage, st, entries)
    else:  # the whole workspace: walk the duration index, stage by stage
        timed = {
            name: await walked_percentiles(
                connection, st.hours, [st.stage == name, *entries[1:]], n=counted[name][2]
            )
            for name in names
            if name in counted
        }
    stages: list[FunnelStage] = []
    for i, name in enumerate(names):
        entered, reached, _ = counted.get(name, (0, 0, 0))
        _, (median, p90) = timed.get(name, (0, [None, None]))
        last = i == len(names) - 1
        stages.append(
            FunnelStage(
                stage=name,
                entered=entered,
                reached_next=0 if last else reached,
                conversion_rate=None if last or not entered else round(reached / entered, 4),
                median_hours_in_stage=median,
                p90_hours_in_stage=p90,
            )
        )
    return FunnelReport(meta=meta, stages=stages)

"""The funnel and speed reports as they were before the roll-ups (commit cb64e64).

Kept only as the benchmark's baseline, run on the same data in the same process: self-joins
over stage_changes, correlated lookups over messages, every duration back in Python for the
percentiles.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle
from agent_service.reports.query import ReportQuery
from agent_service.schemas.reports import (
    Distribution,
    FunnelReport,
    FunnelStage,
    ReportMeta,
    SpeedReport,
)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 2)


def seconds_between(later: Any, earlier: Any, dialect: str) -> Any:
    """Seconds from ``earlier`` to ``later``, computed in the database (no row parsing)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


async def funnel_before(
    session: AsyncSession, query: ReportQuery, lifecycle: Lifecycle, meta: ReportMeta
) -> FunnelReport:
    """Entered = contacts with a move into the stage in the period (first message included).

    Reached next = of those, contacts that later entered any later active stage (at any time,
    so a cohort is followed past the period's end). Time in stage = from entering it to the
    contact's next stage change or lost mark; stays still open are left out.
    """
    sc = models.StageChange
    active = lifecycle.active
    names = [s.name for s in active]
    ws = query.workspace_id
    entry = query.scoped(
        select().where(sc.workspace_id == ws, sc.kind == "stage", sc.to_stage.in_(names)),
        sc.contact_id,
        sc.created_at,
    )
    contacts = func.count(sc.contact_id.distinct())
    entered: dict[str, int] = {
        stage: n
        for stage, n in await (await session.connection()).execute(
            entry.add_columns(sc.to_stage, contacts).group_by(sc.to_stage)
        )
    }
    later = aliased(sc)
    position = {name: i for i, name in enumerate(names)}
    went_on: dict[str, int] = {
        stage: n
        for stage, n in await (await session.connection()).execute(
            entry.add_columns(sc.to_stage, contacts)
            .join(later, later.contact_id == sc.contact_id)
            .where(
                later.kind == "stage",
                later.created_at >= sc.created_at,
                case(position, value=later.to_stage, else_=-1)
                > case(position, value=sc.to_stage, else_=99),
            )
            .group_by(sc.to_stage)
        )
    }
    following = aliased(sc)
    next_at = (
        select(func.min(following.created_at))
        .where(following.contact_id == sc.contact_id, following.created_at > sc.created_at)
        .scalar_subquery()
    )
    dialect = session.get_bind().dialect.name
    stays: dict[str, list[float]] = {name: [] for name in names}
    for stage, stay in (
        await (await session.connection()).execute(
            entry.add_columns(
                sc.to_stage, seconds_between(next_at, sc.created_at, dialect) / 3600.0
            )
        )
    ).tuples():
        if stay is not None:
            stays[stage].append(float(stay))
    stages: list[FunnelStage] = []
    for name in names:
        n, last = int(entered.get(name, 0)), position[name] == len(names) - 1
        on = 0 if last else int(went_on.get(name, 0))
        stages.append(
            FunnelStage(
                stage=name,
                entered=n,
                reached_next=on,
                conversion_rate=None if last or not n else round(on / n, 4),
                median_hours_in_stage=percentile(stays[name], 50),
                p90_hours_in_stage=percentile(stays[name], 90),
            )
        )
    return FunnelReport(meta=meta, stages=stages)


def _distribution(values: list[float]) -> Distribution:
    values.sort()  # once: percentile() then sorts an already sorted list, which is linear
    return Distribution(count=len(values), p50=percentile(values, 50), p90=percentile(values, 90))


async def speed_before(session: AsyncSession, query: ReportQuery, meta: ReportMeta) -> SpeedReport:
    """First response: from a contact's first message to the first reply to them (contacts
    whose first message falls in the period). Reply latency: the agent's own time per turn.
    Time to handoff: from the contact's first message to each handoff made in the period."""
    msg, src, turn, ho = models.Message, models.ContactSource, models.Turn, models.Handoff
    ws = query.workspace_id
    dialect = session.get_bind().dialect.name
    connection = await session.connection()
    first_reply = (
        select(func.min(msg.created_at))
        .where(msg.contact_id == src.contact_id, msg.direction == "out")
        .scalar_subquery()
    )
    response_seconds = (
        await connection.scalars(
            query.scoped(
                select(seconds_between(first_reply, src.first_message_at, dialect)).where(
                    src.workspace_id == ws
                ),
                src.contact_id,
                src.first_message_at,
            )
        )
    ).all()
    latencies = (
        await connection.scalars(
            query.scoped(
                select(turn.latency_ms).where(turn.workspace_id == ws),
                turn.contact_id,
                turn.created_at,
            )
        )
    ).all()
    to_handoff = (
        await connection.scalars(
            query.scoped(
                select(seconds_between(ho.created_at, src.first_message_at, dialect) / 60.0)
                .join(src, src.contact_id == ho.contact_id)
                .where(ho.workspace_id == ws),
                ho.contact_id,
                ho.created_at,
            )
        )
    ).all()
    return SpeedReport(
        meta=meta,
        # float(): PostgreSQL's extract() gives Decimal values.
        first_response_seconds=_distribution([float(v) for v in response_seconds if v is not None]),
        ai_reply_latency_ms=_distribution([float(v) for v in latencies]),
        time_to_handoff_minutes=_distribution([float(v) for v in to_handoff if v is not None]),
    )

"""AI versus human: who moved the funnel, how often and why conversations were handed off."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from agent_service.db import models
from agent_service.lifecycle.policy import Lifecycle
from agent_service.reports.query import ReportQuery
from agent_service.schemas.reports import ActorCount, AiVsHumanReport, NamedCount, ReportMeta
from agent_service.teams.handoff_guard import reason_category


async def ai_vs_human_report(
    session: AsyncSession,
    query: ReportQuery,
    lifecycle: Lifecycle,
    target_stage: str,
    meta: ReportMeta,
) -> AiVsHumanReport:
    """Stage changes by actor; handoff rate and reasons; AI-resolved conversations.

    Contacts started = contacts created in the period. AI-resolved = of those, the ones never
    handed off that reached ``target_stage`` or a later active stage.
    """
    ho, ct, st = models.Handoff, models.Contact, models.StageStay
    ws = query.workspace_id
    connection = await session.connection()
    # Filtered, the rows are read contact by contact (see ReportQuery.rows).
    actors = (
        await connection.execute(
            select(st.actor, st.kind, func.count())
            .where(*query.rows(st.workspace_id, st.contact_id, st.entered_at))
            .group_by(st.actor, st.kind)
            .order_by(st.actor, st.kind)
        )
    ).all()
    # Grouped in the database; in order of first appearance, as the rows used to be counted.
    handoffs = (
        await connection.execute(
            select(ho.reason, ho.team, func.count())
            .where(*query.rows(ho.workspace_id, ho.contact_id, ho.created_at))
            .group_by(ho.reason, ho.team)
            .order_by(func.min(ho.created_at), ho.reason, ho.team)
        )
    ).all()
    target = lifecycle.find(target_stage)
    reachable = [s.name for s in lifecycle.active if target and s.position >= target.position]
    # Counted from the handoffs and from the stays that reached the target (far fewer rows
    # than contacts), each row's contact looked up for when it started.
    started_in_period = [*query.in_period(ct.created_at), *query.contact_filter(ct.id)]
    n_started = await _count(
        connection, select(func.count()).where(ct.workspace_id == ws, *started_in_period)
    )
    n_handed = await _count(
        connection,
        select(func.count(ho.contact_id.distinct()))
        .join(ct, ct.id == ho.contact_id)
        .where(ho.workspace_id == ws, *started_in_period),
    )
    n_resolved = await _count(
        connection,
        select(func.count(st.contact_id.distinct()))
        .join(ct, ct.id == st.contact_id)
        .where(
            st.workspace_id == ws,
            st.stage.in_(reachable),
            st.kind == "stage",
            st.contact_id.not_in(select(ho.contact_id).where(ho.workspace_id == ws)),
            *started_in_period,
        ),
    )
    reasons: Counter[str] = Counter()
    teams: Counter[str] = Counter()
    for reason, team, n in handoffs:
        reasons[reason_category(reason)] += n
        teams[team] += n
    return AiVsHumanReport(
        meta=meta,
        stage_changes=[ActorCount(actor=a, kind=k, count=n) for a, k, n in actors],
        contacts_started=n_started,
        handed_off=n_handed,
        handoff_rate=round(n_handed / n_started, 4) if n_started else None,
        handoff_reasons=[NamedCount(name=k, count=n) for k, n in reasons.most_common()],
        handoffs_by_team=[NamedCount(name=k, count=n) for k, n in teams.most_common()],
        target_stage=target.name if target else target_stage,
        ai_resolved=n_resolved,
        ai_resolved_rate=round(n_resolved / n_started, 4) if n_started else None,
    )


async def _count(connection: AsyncConnection, statement: Select[Any]) -> int:
    return int(await connection.scalar(statement) or 0)

"""AI versus human: who moved the funnel, how often and why conversations were handed off."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.handoff_guard import reason_category
from agent_service.lifecycle import Lifecycle
from agent_service.reports.query import ReportQuery
from agent_service.schemas.reports import ActorCount, AiVsHumanReport, NamedCount, ReportMeta


async def ai_vs_human_report(
    session: AsyncSession,
    query: ReportQuery,
    lifecycle: Lifecycle,
    target_stage: str,
    meta: ReportMeta,
) -> AiVsHumanReport:
    """Stage changes by actor; handoff rate and reasons; AI-resolved conversations.

    Contacts started = contacts whose first message falls in the period. AI-resolved = of
    those, the ones never handed off that reached ``target_stage`` or a later active stage.
    """
    sc, ho, ct = models.StageChange, models.Handoff, models.Contact
    ws = query.workspace_id
    actors = (
        await (await session.connection()).execute(
            query.scoped(
                select(sc.actor, sc.kind, func.count()).where(sc.workspace_id == ws),
                sc.contact_id,
                sc.created_at,
            )
            .group_by(sc.actor, sc.kind)
            .order_by(sc.actor, sc.kind)
        )
    ).all()
    handoffs = (
        await (await session.connection()).execute(
            query.scoped(
                select(ho.reason, ho.team).where(ho.workspace_id == ws),
                ho.contact_id,
                ho.created_at,
            )
        )
    ).all()
    started = query.scoped(select(ct.id).where(ct.workspace_id == ws), ct.id, ct.created_at)
    contacts_started = await session.scalar(select(func.count()).select_from(started.subquery()))
    handed = await session.scalar(
        select(func.count()).select_from(
            started.where(exists().where(ho.contact_id == ct.id)).subquery()
        )
    )
    target = lifecycle.find(target_stage)
    reachable = [s.name for s in lifecycle.active if target and s.position >= target.position]
    resolved = await session.scalar(
        select(func.count()).select_from(
            started.where(
                ~exists().where(ho.contact_id == ct.id),
                exists().where(
                    sc.contact_id == ct.id, sc.kind == "stage", sc.to_stage.in_(reachable)
                ),
            ).subquery()
        )
    )
    n_started, n_handed, n_resolved = contacts_started or 0, handed or 0, resolved or 0
    reasons = Counter(reason_category(r) for r, _ in handoffs)
    teams = Counter(t for _, t in handoffs)
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

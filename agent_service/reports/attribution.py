"""Attribution: leads, conversions and value by campaign and channel."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.reports.query import ReportQuery
from agent_service.schemas.reports import AttributionReport, AttributionRow, LeadCount, ReportMeta


async def attribution_report(
    session: AsyncSession, query: ReportQuery, meta: ReportMeta
) -> AttributionReport:
    """Conversions that happened in the period, by the campaign and channel they are credited
    to (the event's own, else the contact's first message); value summed per currency."""
    cv, src = models.Conversion, models.ContactSource
    conversions = query.scoped(
        select(
            cv.campaign,
            cv.channel,
            cv.type,
            cv.currency,
            func.count(),
            func.count(cv.contact_id.distinct()),
            func.coalesce(func.sum(cv.value), 0.0),
        ).where(cv.workspace_id == query.workspace_id),
        cv.contact_id,
        cv.occurred_at,
    )
    if query.channel is not None:
        conversions = conversions.where(cv.channel == query.channel)
    if query.campaign is not None:
        conversions = conversions.where(cv.campaign == query.campaign)
    grouped = (
        await (await session.connection()).execute(
            conversions.group_by(cv.campaign, cv.channel, cv.type, cv.currency).order_by(
                cv.campaign, cv.channel, cv.type, cv.currency
            )
        )
    ).all()
    leads = (
        await (await session.connection()).execute(
            query.scoped(
                select(src.campaign, src.channel, func.count()).where(
                    src.workspace_id == query.workspace_id
                ),
                src.contact_id,
                src.first_message_at,
            )
            .group_by(src.campaign, src.channel)
            .order_by(src.campaign, src.channel)
        )
    ).all()
    return AttributionReport(
        meta=meta,
        conversions=[
            AttributionRow(
                campaign=campaign,
                channel=channel,
                type=kind,
                currency=currency,
                conversions=n,
                contacts=people,
                value=round(float(value or 0), 2),
            )
            for campaign, channel, kind, currency, n, people, value in grouped
        ],
        leads=[LeadCount(campaign=c, channel=ch, contacts=n) for c, ch, n in leads],
    )

"""Speed: first response time, the AI's reply latency, time until a handoff."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.reports.query import ReportQuery, percentile, seconds_between
from agent_service.schemas.reports import Distribution, ReportMeta, SpeedReport


def _distribution(values: list[float]) -> Distribution:
    values.sort()  # once: percentile() then sorts an already sorted list, which is linear
    return Distribution(count=len(values), p50=percentile(values, 50), p90=percentile(values, 90))


async def speed_report(session: AsyncSession, query: ReportQuery, meta: ReportMeta) -> SpeedReport:
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

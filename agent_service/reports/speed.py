"""Speed: first response time, the AI's reply latency, time until a handoff."""

from __future__ import annotations

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.reports.query import ReportQuery, as_datetime, percentile
from agent_service.schemas.reports import Distribution, ReportMeta, SpeedReport


def _distribution(values: list[float]) -> Distribution:
    return Distribution(count=len(values), p50=percentile(values, 50), p90=percentile(values, 90))


async def speed_report(session: AsyncSession, query: ReportQuery, meta: ReportMeta) -> SpeedReport:
    """First response: from a contact's first message to the first reply to them (contacts
    whose first message falls in the period). Reply latency: the agent's own time per turn.
    Time to handoff: from the contact's first message to each handoff made in the period."""
    msg, src, turn, ho = models.Message, models.ContactSource, models.Turn, models.Handoff
    ws = query.workspace_id
    first_reply = (
        select(type_coerce(func.min(msg.created_at), String))
        .where(msg.contact_id == src.contact_id, msg.direction == "out")
        .scalar_subquery()
    )
    firsts = (
        await (await session.connection()).execute(
            query.scoped(
                select(type_coerce(src.first_message_at, String), first_reply).where(
                    src.workspace_id == ws
                ),
                src.contact_id,
                src.first_message_at,
            )
        )
    ).all()
    response_seconds = []
    for first_in, first_out in firsts:
        start, reply = as_datetime(first_in), as_datetime(first_out)
        if start is not None and reply is not None:
            response_seconds.append((reply - start).total_seconds())
    latencies = (
        await (await session.connection()).scalars(
            query.scoped(
                select(turn.latency_ms).where(turn.workspace_id == ws),
                turn.contact_id,
                turn.created_at,
            )
        )
    ).all()
    handoffs = (
        await (await session.connection()).execute(
            query.scoped(
                select(
                    type_coerce(ho.created_at, String), type_coerce(src.first_message_at, String)
                )
                .join(src, src.contact_id == ho.contact_id)
                .where(ho.workspace_id == ws),
                ho.contact_id,
                ho.created_at,
            )
        )
    ).all()
    to_handoff = []
    for at, first_in in handoffs:
        end, start = as_datetime(at), as_datetime(first_in)
        if end is not None and start is not None:
            to_handoff.append((end - start).total_seconds() / 60)
    return SpeedReport(
        meta=meta,
        first_response_seconds=_distribution(response_seconds),
        ai_reply_latency_ms=_distribution([float(v) for v in latencies]),
        time_to_handoff_minutes=_distribution(to_handoff),
    )

"""Speed: first response time, the AI's reply latency, time until a handoff."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.db import models
from agent_service.reports.query import (
    ReportQuery,
    percentiles_in_db,
)
from agent_service.schemas.reports import Distribution, ReportMeta, SpeedReport


async def speed_report(session: AsyncSession, query: ReportQuery, meta: ReportMeta) -> SpeedReport:
    """First response: from a contact's first message to the first reply to them (contacts
    whose first message falls in the period). Reply latency: the agent's own time per turn.
    Time to handoff: from the contact's first message to each handoff made in the period."""
    src, turn, ho = models.ContactSource, models.Turn, models.Handoff
    connection = await session.connection()
    # Each walks an index led by the measure itself, kept by the writes (report_rollups): the
    # first reply on the contact's source row, the minutes to a handoff on the handoff.
    responses = await percentiles_in_db(
        connection,
        query,
        src.first_response_seconds,
        query.rows(src.workspace_id, src.contact_id, src.first_message_at),
    )
    latencies = await percentiles_in_db(
        connection,
        query,
        turn.latency_ms,
        query.rows(turn.workspace_id, turn.contact_id, turn.created_at),
    )
    to_handoff = await percentiles_in_db(
        connection,
        query,
        ho.minutes_after_first_message,
        query.rows(ho.workspace_id, ho.contact_id, ho.created_at),
    )
    return SpeedReport(
        meta=meta,
        first_response_seconds=_distribution(*responses),
        ai_reply_latency_ms=_distribution(*latencies),
        time_to_handoff_minutes=_distribution(*to_handoff),
    )


def _distribution(count: int, found: list[float | None]) -> Distribution:
    return Distribution(count=count, p50=found[0], p90=found[1])

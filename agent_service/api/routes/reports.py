from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response, status

from agent_service.api.deps import ClockDep, SessionDep, require
from agent_service.api.errors import ERROR_RESPONSES, InvalidBody
from agent_service.reports.ai_vs_human import ai_vs_human_report
from agent_service.reports.attribution import attribution_report
from agent_service.reports.chart import funnel_svg, lost_svg
from agent_service.reports.funnel import funnel_report
from agent_service.reports.lost import lost_report
from agent_service.reports.query import ReportQuery
from agent_service.reports.render import Format, pick_format, prepare, render
from agent_service.reports.segments import segments_report
from agent_service.reports.speed import speed_report
from agent_service.schemas.reports import (
    AiVsHumanReport,
    AttributionReport,
    FunnelReport,
    LostReport,
    ReportMeta,
    SegmentsReport,
    SpeedReport,
)
from agent_service.workspaces.api_keys import Principal

router = APIRouter(prefix="/v1/reports", tags=["reports"])
AdminKey = Annotated[Principal, Depends(require("admin"))]
DEFAULT_DAYS = 30
# Report periods, and the previous period a report compares with, stay well inside the dates
# Python and both databases can represent.
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)
RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    200: {"content": {"text/csv": {}, "image/svg+xml": {}}},
    422: {"model": InvalidBody, "description": "A bad date range, format or stage."},
}


class Params:
    """Period and filters shared by every report."""

    def __init__(
        self,
        principal: AdminKey,
        clock: ClockDep,
        start: Annotated[
            date | None, Query(alias="from", description="First day (UTC); default 30 days ago.")
        ] = None,
        end: Annotated[
            date | None, Query(alias="to", description="Last day (UTC, inclusive); default today.")
        ] = None,
        channel: Annotated[str | None, Query(description="The contact's first channel.")] = None,
        campaign: Annotated[str | None, Query(description="The contact's first campaign.")] = None,
        team: Annotated[str | None, Query(description="Contacts handed to this team.")] = None,
        format: Annotated[str | None, Query(description="json, csv or svg.")] = None,
        accept: Annotated[str | None, Header()] = None,
    ) -> None:
        today = clock().date()
        for name, day in (("from", start), ("to", end)):
            if day is not None and not EARLIEST <= day <= LATEST:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    f"'{name}' must be a day from {EARLIEST} to {LATEST}",
                )
        self.explicit_period = start is not None or end is not None
        last = end or today
        first = start or last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, "'from' must not be after 'to'"
            )
        self.query = ReportQuery(
            workspace_id=principal.workspace_id,
            start=datetime.combine(first, time(), UTC),
            end=datetime.combine(last + timedelta(days=1), time(), UTC),
            channel=channel,
            campaign=campaign,
            team=team,
        )
        self.format: Format = pick_format(format, accept)

    def meta(self, query: ReportQuery | None = None) -> ReportMeta:
        q = query or self.query
        return ReportMeta(
            start=q.start, end=q.end, channel=q.channel, campaign=q.campaign, team=q.team
        )


ParamsDep = Annotated[Params, Depends()]


@router.get("/funnel", response_model=FunnelReport, responses=RESPONSES)
async def get_funnel(params: ParamsDep, session: SessionDep) -> FunnelReport | Response:
    """Contacts that entered each active stage, conversion to later stages, time in stage."""
    lifecycle = await prepare(session, params.query.workspace_id)
    report = await funnel_report(session, params.query, lifecycle, params.meta())
    return render(report, params.format, "funnel", funnel_svg)  # type: ignore[return-value]


@router.get("/lost", response_model=LostReport, responses=RESPONSES)
async def get_lost(params: ParamsDep, session: SessionDep) -> LostReport | Response:
    """Lost marks by lost stage and reason, the stage they were lost from, month by month."""
    await prepare(session, params.query.workspace_id)
    report = await lost_report(session, params.query, params.meta())
    return render(report, params.format, "lost", lost_svg)  # type: ignore[return-value]


@router.get("/ai-vs-human", response_model=AiVsHumanReport, responses=RESPONSES)
async def get_ai_vs_human(
    params: ParamsDep,
    session: SessionDep,
    target_stage: Annotated[
        str | None, Query(description="Default: the qualified stage, else the last stage.")
    ] = None,
) -> AiVsHumanReport | Response:
    """Stage changes and lost marks by actor, handoff rate and reasons, AI-resolved contacts."""
    lifecycle = await prepare(session, params.query.workspace_id)
    target = target_stage or lifecycle.active[-1].name
    if lifecycle.find(target) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown stage '{target}'")
    report = await ai_vs_human_report(session, params.query, lifecycle, target, params.meta())
    return render(report, params.format, "ai-vs-human")  # type: ignore[return-value]


@router.get("/speed", response_model=SpeedReport, responses=RESPONSES)
async def get_speed(params: ParamsDep, session: SessionDep) -> SpeedReport | Response:
    """First response time, the AI's reply latency and time to handoff (p50, p90)."""
    await prepare(session, params.query.workspace_id)
    report = await speed_report(session, params.query, params.meta())
    return render(report, params.format, "speed")  # type: ignore[return-value]


@router.get("/attribution", response_model=AttributionReport, responses=RESPONSES)
async def get_attribution(params: ParamsDep, session: SessionDep) -> AttributionReport | Response:
    """Leads, conversions and conversion value by campaign and channel."""
    await prepare(session, params.query.workspace_id)
    report = await attribution_report(session, params.query, params.meta())
    return render(report, params.format, "attribution")  # type: ignore[return-value]


@router.get("/segments", response_model=SegmentsReport, responses=RESPONSES)
async def get_segments(
    params: ParamsDep,
    session: SessionDep,
    stage: Annotated[str | None, Query(description="List the contacts in this stage.")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
) -> SegmentsReport | Response:
    """Contacts currently in each stage; with `stage`, the contacts themselves (CSV for a
    broadcast). The period filters on last activity, and only when `from`/`to` are given."""
    lifecycle = await prepare(session, params.query.workspace_id)
    found = lifecycle.find(stage) if stage else None
    if stage is not None and found is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown stage '{stage}'")
    query = params.query
    if not params.explicit_period:
        query = ReportQuery(
            query.workspace_id, None, None, query.channel, query.campaign, query.team
        )
    report = await segments_report(
        session, query, lifecycle, found.name if found else None, limit, params.meta(query)
    )
    return render(report, params.format, "segments")  # type: ignore[return-value]

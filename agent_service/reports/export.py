"""Reports as CSV: one flat table per report."""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import BaseModel

from agent_service.schemas.reports import (
    AiVsHumanReport,
    AttributionReport,
    FunnelReport,
    LostReport,
    SegmentsReport,
    SpeedReport,
)

Table = tuple[list[str], list[list[Any]]]


def table(report: BaseModel) -> Table:
    """The report's main figures as rows; nested parts get a ``section`` column."""
    if isinstance(report, FunnelReport):
        header = list(report.stages[0].model_fields) if report.stages else ["stage"]
        return header, [list(s.model_dump().values()) for s in report.stages]
    if isinstance(report, LostReport):
        rows: list[list[Any]] = [
            ["by_stage", s.stage, "", "", "", s.count] for s in report.by_stage
        ]
        rows += [
            ["reason", r.stage, r.reason, r.from_stage or "", "", r.count] for r in report.rows
        ]
        rows += [["month", m.stage, "", "", m.month, m.count] for m in report.over_time]
        return ["section", "stage", "reason", "from_stage", "month", "count"], rows
    if isinstance(report, AiVsHumanReport):
        rows = [["stage_changes", f"{c.actor}:{c.kind}", c.count] for c in report.stage_changes]
        rows += [["handoff_reason", r.name, r.count] for r in report.handoff_reasons]
        rows += [["handoff_team", t.name, t.count] for t in report.handoffs_by_team]
        rows += [
            ["summary", "contacts_started", report.contacts_started],
            ["summary", "handed_off", report.handed_off],
            ["summary", "handoff_rate", report.handoff_rate],
            ["summary", f"ai_resolved ({report.target_stage})", report.ai_resolved],
            ["summary", "ai_resolved_rate", report.ai_resolved_rate],
        ]
        return ["section", "name", "value"], rows
    if isinstance(report, SpeedReport):
        measures = {
            "first_response_seconds": report.first_response_seconds,
            "ai_reply_latency_ms": report.ai_reply_latency_ms,
            "time_to_handoff_minutes": report.time_to_handoff_minutes,
        }
        return ["measure", "count", "p50", "p90"], [
            [name, d.count, d.p50, d.p90] for name, d in measures.items()
        ]
    if isinstance(report, AttributionReport):
        header = ["campaign", "channel", "type", "currency", "conversions", "contacts", "value"]
        rows = [[getattr(r, h) for h in header] for r in report.conversions]
        rows += [
            [lead.campaign, lead.channel, "lead", "", "", lead.contacts, ""]
            for lead in report.leads
        ]
        return header, rows
    if isinstance(report, SegmentsReport):
        if report.stage is None:
            return ["stage", "lost", "contacts"], [
                [c.stage, c.lost, c.contacts] for c in report.counts
            ]
        header = list(report.contacts[0].model_fields) if report.contacts else ["id"]
        return header, [list(c.model_dump(mode="json").values()) for c in report.contacts]
    raise TypeError(f"no table for {type(report).__name__}")


def to_csv(report: BaseModel) -> str:
    header, rows = table(report)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()

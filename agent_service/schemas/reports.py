"""Report bodies. Every report also exports as CSV; funnel and lost also as an SVG chart."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ReportMeta(BaseModel):
    """The period (UTC, end exclusive) and the filters the figures were computed with."""

    start: datetime | None
    end: datetime | None
    channel: str | None
    campaign: str | None
    team: str | None


class FunnelStage(BaseModel):
    stage: str
    entered: int = Field(description="Contacts that entered the stage in the period.")
    reached_next: int = Field(description="Of those, how many reached a later stage.")
    conversion_rate: float | None = Field(description="reached_next / entered.")
    median_hours_in_stage: float | None = Field(description="Over stays that ended.")
    p90_hours_in_stage: float | None


class FunnelReport(BaseModel):
    meta: ReportMeta
    stages: list[FunnelStage]


class LostCount(BaseModel):
    stage: str
    count: int


class LostRow(BaseModel):
    stage: str
    reason: str
    from_stage: str | None
    count: int


class LostMonth(BaseModel):
    month: str
    stage: str
    count: int


class LostReport(BaseModel):
    """Lost marks only: drop-off data kept apart from the active funnel."""

    meta: ReportMeta
    total: int
    by_stage: list[LostCount]
    rows: list[LostRow]
    over_time: list[LostMonth]


class ActorCount(BaseModel):
    actor: str
    kind: str
    count: int


class NamedCount(BaseModel):
    name: str
    count: int


class AiVsHumanReport(BaseModel):
    meta: ReportMeta
    stage_changes: list[ActorCount]
    contacts_started: int
    handed_off: int
    handoff_rate: float | None
    handoff_reasons: list[NamedCount]
    handoffs_by_team: list[NamedCount]
    target_stage: str
    ai_resolved: int = Field(description="Started in the period, never handed off, reached it.")
    ai_resolved_rate: float | None


class Distribution(BaseModel):
    count: int
    p50: float | None
    p90: float | None


class SpeedReport(BaseModel):
    meta: ReportMeta
    first_response_seconds: Distribution
    ai_reply_latency_ms: Distribution
    time_to_handoff_minutes: Distribution


class AttributionRow(BaseModel):
    campaign: str | None
    channel: str | None
    type: str
    currency: str | None
    conversions: int
    contacts: int
    value: float


class LeadCount(BaseModel):
    campaign: str | None
    channel: str | None
    contacts: int


class AttributionReport(BaseModel):
    meta: ReportMeta
    conversions: list[AttributionRow]
    leads: list[LeadCount]


class SegmentCount(BaseModel):
    stage: str
    lost: bool
    contacts: int


class SegmentContact(BaseModel):
    id: str
    name: str | None
    phone: str | None
    email: str | None
    language: str | None
    lifecycle_stage: str
    lost_reason: str | None
    channel: str | None
    campaign: str | None
    updated_at: datetime


class SegmentsReport(BaseModel):
    meta: ReportMeta
    counts: list[SegmentCount]
    stage: str | None
    contacts: list[SegmentContact]
    truncated: bool

"""Follow-ups as admins see them, and what one run did."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class FollowUpRunResult(BaseModel):
    """Counts of what one pass over due follow-ups did."""

    planned: int
    sent: int
    cancelled: int
    skipped: int
    marked_cold: int
    delivery_errors: int


class FollowUpPublic(BaseModel):
    """One step of a follow-up plan: a nudge, or the final cold-lead mark."""

    id: str
    contact_id: str
    step: int
    kind: str
    channel: str
    due_at: datetime
    status: str
    outcome: str
    message_id: str | None
    delivery_error: str | None
    processed_at: datetime | None

"""Audit log entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEntryPublic(BaseModel):
    id: str
    key_id: str = Field(description="Who: the id of the API key that made the change.")
    action: str = Field(examples=["knowledge.update"])
    target_type: str
    target_id: str | None
    before: Any
    after: Any
    at: datetime


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    total: int
    offset: int
    limit: int

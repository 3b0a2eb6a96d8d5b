"""Handoff teams, their hours and their availability."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_service.schemas.base import Patch

Fallback = Literal["collect_contact", "handoff_anyway"]


TEAM_EXAMPLE: dict[str, Any] = {
    "key": "sales",
    "name": "Sales",
    "description": "Confirms bookings and takes deposits.",
    "timezone": "Asia/Ho_Chi_Minh",
    "business_hours": {"mon": ["09:00", "18:00"], "sat": ["09:00", "12:00"]},
    "fallback": "collect_contact",
}


class TeamCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TEAM_EXAMPLE]})

    key: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_-]+$")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    timezone: str = Field(default="UTC", description="IANA time zone of the business hours.")
    business_hours: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Day (mon..sun) to ["HH:MM", "HH:MM"]; no entry = closed; empty = always open.',
    )
    fallback: Fallback = Field(
        default="collect_contact",
        description="When closed or nobody is online: ask for a phone/e-mail and promise a "
        "call-back (collect_contact), or hand off anyway and say when they are back.",
    )
    default: bool = Field(default=False, description="Handoffs that name no team go to this one.")


class TeamUpdate(Patch):
    model_config = ConfigDict(json_schema_extra={"examples": [{"fallback": "handoff_anyway"}]})

    key: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[a-z0-9_-]+$")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    timezone: str | None = None
    business_hours: dict[str, list[str]] | None = None
    fallback: Fallback | None = None
    default: bool | None = Field(
        default=None, description="true: handoffs that name no team go to this one."
    )


class Availability(BaseModel):
    """The messaging layer's online signal for a team."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"online_agents": 2}]})

    online_agents: int = Field(ge=0, le=100_000, description="Agents online now; 0 = nobody.")


class TeamPublic(BaseModel):
    id: str
    key: str
    name: str
    description: str
    timezone: str
    business_hours: dict[str, list[str]]
    fallback: str
    online_agents: int | None
    availability_updated_at: datetime | None
    open_now: bool
    available_now: bool
    default: bool = Field(description="Handoffs that name no team go here.")

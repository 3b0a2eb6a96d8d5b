"""Handoff teams."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TeamConfig(BaseModel):
    """A human team that conversations can be handed to."""

    key: str
    name: str
    description: str = ""
    timezone: str = "UTC"
    business_hours: dict[str, list[str]] = Field(default_factory=dict)

"""A contact as admins and the messaging layer see it, and conversation events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class StageChangePublic(BaseModel):
    """One lifecycle move or lost mark, with who made it and on what evidence."""

    kind: Literal["stage", "lost"]
    from_stage: str | None
    to_stage: str
    actor: Literal["ai", "human", "system"]
    reason: str
    evidence: str
    confidence: float | None
    prompt_version: str | None
    model: str | None
    turn_id: str | None
    at: datetime


class HandoffPublic(BaseModel):
    team: str
    reason: str
    summary: str
    at: datetime
    released_at: datetime | None


class ContactPublic(BaseModel):
    """The contact's current state and full stage history."""

    id: str
    name: str | None
    phone: str | None
    email: str | None
    language: str | None
    lifecycle_stage: str
    lost: bool
    lost_reason: str | None
    owner: Literal["ai", "human"]
    assigned_to: str | None
    fields: dict[str, Any]
    stage_history: list[StageChangePublic]
    handoffs: list[HandoffPublic]
    created_at: datetime
    updated_at: datetime


class ContactEventIn(BaseModel):
    """A conversation event from the messaging layer."""

    type: Literal["human_assigned", "human_released"] = Field(
        description="human_assigned: a person took over (the agent goes silent); "
        "human_released: the conversation is given back to the agent."
    )
    event_id: str | None = Field(
        default=None, max_length=200, description="Idempotency key; a repeat changes nothing."
    )
    team: str | None = Field(default=None, max_length=100, description="For human_assigned.")


class ContactEventResult(BaseModel):
    event_id: str | None
    type: str
    duplicate: bool
    owner: Literal["ai", "human"]
    assigned_to: str | None

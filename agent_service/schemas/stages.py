"""Lifecycle stages and the approvals of AI moves into guarded stages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_service.schemas.base import Patch


class StageCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Consulted, not bought", "position": 2, "requires_approval": False}
            ]
        }
    )

    name: str = Field(min_length=1, max_length=100)
    position: int | None = Field(
        default=None, ge=0, le=1000, description="Insert here; default: the end."
    )
    lost: bool = Field(default=False, description="A lost stage, kept apart from the funnel.")
    ai_settable: bool = Field(default=True, description="False: only a human or an event sets it.")
    requires_approval: bool = Field(
        default=False, description="An AI move into it waits for a human's approval."
    )


class StageUpdate(Patch):
    """Rename (contacts in the stage follow) or change flags; omitted fields stay."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Booked", "requires_approval": True}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=100)
    lost: bool | None = None
    ai_settable: bool | None = None
    requires_approval: bool | None = None


class StageOrder(BaseModel):
    """Every stage id, in the new order."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"ids": ["stg_a", "stg_b"]}]})

    ids: list[str] = Field(min_length=1)


class StagePublic(BaseModel):
    id: str
    name: str
    position: int
    lost: bool
    ai_settable: bool
    requires_approval: bool
    contacts: int = Field(description="Contacts currently in this stage.")


class StageDeleted(BaseModel):
    deleted: str
    moved_contacts: int


class ApprovalPublic(BaseModel):
    id: str
    contact_id: str = Field(description="The contact's id in the messaging layer.")
    kind: Literal["stage", "lost"]
    from_stage: str | None
    to_stage: str
    reason: str
    evidence: str
    confidence: float | None
    prompt_version: str | None
    model: str | None
    turn_id: str | None
    status: Literal["pending", "approved", "rejected"]
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime

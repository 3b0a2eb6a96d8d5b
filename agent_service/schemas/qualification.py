"""Qualification fields and the qualification rule."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent_service.schemas.base import Patch

FieldType = Literal["text", "choice", "date", "number", "phone", "email"]


FIELD_EXAMPLE: dict[str, Any] = {
    "name": "budget",
    "type": "number",
    "required": False,
    "question": {
        "en": "What budget do you have in mind?",
        "vi": "Ngân sách của bạn khoảng bao nhiêu?",
    },
}


class FieldCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FIELD_EXAMPLE]})

    name: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")
    type: FieldType = "text"
    required: bool = True
    choices: list[str] = Field(default_factory=list)
    synonyms: dict[str, list[str]] = Field(default_factory=dict)
    question: dict[str, str] = Field(
        default_factory=dict, description="The question to ask, per language code."
    )
    position: int | None = Field(
        default=None, ge=0, le=1000, description="Ask order; default: last."
    )


class FieldUpdate(Patch):
    model_config = ConfigDict(json_schema_extra={"examples": [{"required": True}]})

    name: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$"
    )
    type: FieldType | None = None
    required: bool | None = None
    choices: list[str] | None = None
    synonyms: dict[str, list[str]] | None = None
    question: dict[str, str] | None = None
    position: int | None = Field(default=None, ge=0, le=1000)


class FieldPublic(BaseModel):
    id: str
    name: str
    type: str
    position: int
    required: bool
    choices: list[str]
    synonyms: dict[str, list[str]]
    question: dict[str, str]


class Rule(BaseModel):
    """When a lead is qualified, and what happens then."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "qualified_when": ["service", "preferred_date"],
                    "qualified_at_least": {"budget": 500},
                    "qualified_stage": "Hot Lead",
                    "handoff_team": "sales",
                }
            ]
        }
    )

    qualified_when: list[str] = Field(
        default_factory=list, description="Fields that must be known."
    )
    qualified_at_least: dict[str, float] = Field(
        default_factory=dict, description="Numeric fields that must be known and at least this."
    )
    qualified_stage: str | None = Field(
        default=None, description="Stage a qualified lead moves to."
    )
    handoff_team: str | None = Field(default=None, description="Team key qualified leads go to.")


class QualificationPublic(BaseModel):
    fields: list[FieldPublic]
    rule: Rule

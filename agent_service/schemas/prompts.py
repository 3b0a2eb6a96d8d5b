"""Prompt versions, diffs, activation and preview."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("each message must contain at least one non-space character")
    return value


# A customer message to preview: the same rules as POST /v1/messages' text.
PreviewText = Annotated[
    str,
    Field(min_length=1, max_length=4000, json_schema_extra={"pattern": r"\S"}),
    AfterValidator(_not_blank),
]

PromptName = Literal["system", "phrases"]


class PromptSummary(BaseModel):
    name: str
    active_version: int | None
    latest_version: int
    versions: int


class PromptVersionPublic(BaseModel):
    name: str
    version: int
    active: bool
    body: str
    created_at: datetime


class PromptVersionCreate(BaseModel):
    """A new version; the current one is never overwritten."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body": "You are the assistant of {business_name}. Reply in {language_name}."
                    "\n<knowledge>\n{knowledge}\n</knowledge>",
                    "activate": False,
                }
            ]
        }
    )

    body: str = Field(max_length=50_000)
    activate: bool = Field(default=False, description="Make it the version turns use now.")


class PromptDiff(BaseModel):
    name: str
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff (difflib).")


class PreviewRequest(BaseModel):
    """Messages from one imaginary customer, answered with draft prompts; nothing is stored."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "drafts": {"system": "You are the assistant of {business_name}.\n{knowledge}"},
                    "messages": ["How much is a basic facial?", "I want to book on Saturday"],
                    "locale": "en",
                }
            ]
        }
    )

    drafts: dict[PromptName, str] = Field(
        default_factory=dict, description="Draft bodies to try, by prompt name."
    )
    versions: dict[PromptName, Annotated[int, Field(ge=1, le=1_000_000)]] = Field(
        default_factory=dict, description="Stored (e.g. inactive) versions to try instead."
    )
    messages: list[PreviewText] = Field(min_length=1, max_length=10)
    contact_name: str | None = None
    locale: str | None = Field(default=None, max_length=20)
    contact_id: str | None = Field(
        default=None,
        max_length=200,
        description="Continue from a copy of this contact's state and messages (never changed).",
    )


class PreviewTurn(BaseModel):
    message: str
    status: Literal["replied", "silent"]
    reply: str | None
    language: str | None
    brain: str
    tool_calls: list[dict[str, Any]]
    refused: list[dict[str, Any]] = Field(description="Tool calls the guardrails refused.")
    retrieved: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    contact: dict[str, Any]


class PreviewResponse(BaseModel):
    prompt_version: str = Field(description="Drafts show as version 0, e.g. system@0.")
    brain: Literal["llm", "offline-planner"] = Field(
        description="Who answers this workspace's turns now: the configured model, or the "
        "offline planner when no model is configured."
    )
    prompts_read: list[str] = Field(
        description="The prompts that brain reads; a draft of any other prompt cannot change "
        "these turns."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="What the preview cannot show, e.g. a `system` draft with no model configured.",
    )
    turns: list[PreviewTurn]

"""A contact as admins and the messaging layer see it, and conversation events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


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


class MessageAttempt(BaseModel):
    """One failed attempt at a message's turn."""

    at: datetime
    error: str
    model_calls: int = Field(description="Requests this attempt made to the model (charged).")
    input_tokens: int
    output_tokens: int
    replica: str = Field(description="The server process that made the attempt.")


class MessagePublic(BaseModel):
    """A message of the conversation as stored, with how its turn went."""

    message_id: str | None = Field(
        description="The channel's id of an inbound message; null for the agent's replies."
    )
    direction: Literal["in", "out"]
    channel: str
    text: str
    sent_at: datetime
    status: Literal["received", "processed", "failed"] = Field(
        description="`received`: stored, not answered yet (a failed attempt is retried after "
        "`retry_at`); `processed`: answered; `failed`: every attempt at its turn failed and "
        "it was answered with the fallback (see `error` and `attempts`)."
    )
    error: str | None = Field(description="Why the last attempt at its turn failed.")
    attempts: list[MessageAttempt] = Field(description="The failed attempts, oldest first.")
    retry_at: datetime | None = Field(description="The next attempt, not before.")
    turn_id: str | None = Field(description="The turn that answered it (or wrote the reply).")
    created_at: datetime


CONVERSATION_EVENTS = frozenset(
    {
        "human_assigned",
        "human_released",
        "conversation_closed",
        "conversation_reopened",
        "stage_set_by_human",
    }
)
STANDARD_CONVERSIONS = (
    "appointment_booked",
    "added_to_cart",
    "checkout_started",
    "purchase_completed",
)


class ContactEventIn(BaseModel):
    """An event about a contact from the messaging layer, a shop or an ads platform.

    Conversation events: `human_assigned`, `human_released`, `conversation_closed`,
    `conversation_reopened`, `stage_set_by_human`. Every other type is a conversion event
    (`appointment_booked`, `added_to_cart`, `checkout_started`, `purchase_completed` or a
    custom name such as `deposit_paid`).
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "purchase_completed",
                    "event_id": "shop-order-1042",
                    "occurred_at": "2026-11-22T06:00:00Z",
                    "value": 1200000,
                    "currency": "VND",
                },
                {"type": "human_assigned", "event_id": "inbox-77", "team": "sales"},
                {
                    "type": "stage_set_by_human",
                    "event_id": "inbox-78",
                    "stage": "Payment",
                    "reason": "deposit link sent",
                },
            ]
        }
    )

    type: str = Field(
        pattern=r"^[a-z][a-z0-9_]{1,49}$",
        description="The event type; lower-case letters, digits and underscores.",
    )
    event_id: str = Field(
        min_length=1, max_length=200, description="Idempotency key; a repeat changes nothing."
    )
    occurred_at: AwareDatetime | None = Field(
        default=None,
        description="When it happened, with a time zone (default: when received). An event "
        "older than the "
        "contact's last stage change never moves the stage backwards.",
    )
    team: str | None = Field(default=None, max_length=100, description="For human_assigned.")
    stage: str | None = Field(
        default=None, max_length=100, description="For stage_set_by_human: the stage name."
    )
    reason: str | None = Field(
        default=None, max_length=500, description="For stage_set_by_human: why (the lost reason)."
    )
    value: float | None = Field(default=None, ge=0, description="Conversion value.")
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. VND, MYR, THB."
    )
    channel: str | None = Field(
        default=None, max_length=20, description="Attribution override (default: first channel)."
    )
    campaign: str | None = Field(
        default=None, max_length=200, description="Attribution override (default: first campaign)."
    )

    @model_validator(mode="after")
    def _check_fields(self) -> ContactEventIn:
        if self.type == "stage_set_by_human" and not self.stage:
            raise ValueError("stage_set_by_human needs 'stage', the name of the new stage")
        if self.value is not None and self.currency is None:
            raise ValueError("a 'value' needs its 'currency' (ISO 4217, e.g. VND)")
        return self

    @property
    def is_conversion(self) -> bool:
        return self.type not in CONVERSATION_EVENTS


class ContactEventResult(BaseModel):
    """What the event changed; a repeat returns the first answer with ``duplicate`` true."""

    event_id: str | None
    type: str
    duplicate: bool
    owner: Literal["ai", "human"]
    assigned_to: str | None
    lifecycle_stage: str | None = None
    lost: bool | None = None
    stage_changed: bool = False
    note: str = Field(default="", description="Why the stage did or did not move.")


# --- The contact list and the conversation with its trace (GET /v1/contacts, .../conversation)


class ContactListItem(BaseModel):
    """A contact in the list: who, where in the funnel, who answers, the last message."""

    id: str = Field(description="The contact's id on the channel side (as in `/v1/messages`).")
    name: str | None
    phone: str | None
    email: str | None
    language: str | None
    lifecycle_stage: str
    lost: bool
    lost_reason: str | None
    owner: Literal["ai", "human"]
    team: str | None = Field(
        description="The team of the open handoff (its key, as the handoff records it), or null."
    )
    channel: str | None = Field(description="The channel of the contact's first message.")
    campaign: str | None = Field(description="The campaign of the contact's first message.")
    last_message_at: datetime | None = Field(
        description="When the service stored the contact's newest message, either direction."
    )
    last_message_text: str | None = Field(description="Its text, at most 200 characters.")
    created_at: datetime


class ContactPage(BaseModel):
    """One page of the list, newest last message first."""

    items: list[ContactListItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class RetrievedTrace(BaseModel):
    """A knowledge entry the turn retrieved, with its similarity score."""

    entry_id: str
    question: str
    score: float


class ToolCallTrace(BaseModel):
    """A tool call as the model made it and what the guardrails decided."""

    name: str
    args: dict[str, Any]
    decision: Literal["applied", "refused"] = Field(
        description="`applied`, or `refused`: a policy refused it, or the call itself was "
        "invalid (an unknown tool, bad arguments; `reason` starts with `error:`)."
    )
    reason: str | None = Field(description="Why it was refused, or what was applied.")


class HandoffTrace(BaseModel):
    team: str = Field(description="The team key the turn handed the conversation to.")
    summary: str = Field(description="What the team reads (with call-back details, if given).")


class TurnTrace(BaseModel):
    """What the turn that wrote a reply saw, decided and cost (the `turns` row)."""

    turn_id: str
    brain: str = Field(description="llm, offline-planner, llm+offline-planner, ...")
    model: str
    prompt_versions: dict[str, int] = Field(description="Prompt name -> version used.")
    retrieved: list[RetrievedTrace]
    tool_calls: list[ToolCallTrace]
    handoff: HandoffTrace | None
    latency_ms: float
    model_calls: int
    input_tokens: int
    output_tokens: int
    retrieval: str | None = Field(
        description="Whether the vector index answered (`ok`) or why not; null before 0013."
    )
    error: str | None = Field(description="Why the turn failed, when its reply is the fallback.")


class ConversationEntry(BaseModel):
    """One message of the conversation, with the trace of the turn that wrote it."""

    message_id: str | None = Field(
        description="The channel's id of an inbound message; null for the service's replies."
    )
    direction: Literal["in", "out"]
    channel: str
    text: str
    at: datetime = Field(description="When the service stored it (the transcript's order).")
    status: Literal["received", "processed", "failed"]
    turn: TurnTrace | None = Field(
        description="On each reply a turn wrote; null on inbound messages and on messages no "
        "turn wrote (follow-up nudges)."
    )


class Conversation(BaseModel):
    """The contact and every message, oldest first."""

    contact: ContactListItem
    entries: list[ConversationEntry]

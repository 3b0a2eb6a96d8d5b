"""The contract with the messaging layer: an inbound message and the service's answer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from agent_service.schemas.retrieval import RetrievalInfo

Channel = Literal[
    "whatsapp",
    "messenger",
    "instagram",
    "tiktok",
    "line",
    "telegram",
    "webchat",
    "email",
    "sms",
    "zalo",
    "viber",
    "other",
]
CHANNELS: frozenset[str] = frozenset(get_args(Channel))


_EARLIEST, _LATEST = datetime(1970, 1, 1), datetime(9000, 1, 1)


class ReplyRoute(BaseModel):
    """Where the reply to a message from a channel connection goes: the connection, and the
    platform's address of the reply (a WhatsApp number, a Telegram chat, a LINE user and reply
    token, a Chatwoot conversation)."""

    connection_id: str
    address: dict[str, Any]


class ContactIn(BaseModel):
    """The customer as the channel knows them."""

    id: str = Field(min_length=1, max_length=200, description="The channel-side contact id.")
    name: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=200)
    locale: str | None = Field(default=None, max_length=20, description="e.g. vi, th, en-MY")


class InboundMessage(BaseModel):
    """One customer message forwarded by the messaging layer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "wamid.HBgMNjA001",
                    "channel": "whatsapp",
                    "contact": {
                        "id": "c-123",
                        "name": "Lan",
                        "phone": "+84901234567",
                        "email": None,
                        "locale": "vi",
                    },
                    "text": "Gói chăm sóc da mặt giá bao nhiêu?",
                    "sent_at": "2026-11-22T06:00:00Z",
                    "source": {"campaign": "fb-lead-ads-nov", "ad_id": "123"},
                }
            ]
        }
    )

    message_id: str = Field(
        min_length=1, max_length=300, description="The channel's own id; the idempotency key."
    )
    channel: Channel
    contact: ContactIn
    text: str = Field(
        min_length=1,
        # Documented for clients and fuzzers; the validator below gives the readable error.
        json_schema_extra={"pattern": r"\S"},
        description="The customer's words; not empty or blank.",
    )
    sent_at: datetime
    source: dict[str, Any] | None = Field(default=None, description="Optional ad attribution.")
    # Set by a channel connection's webhook, never by a request body: where the reply goes
    # (stored with the message's outbox row; channels/ reads it when it sends).
    _reply_route: ReplyRoute | None = PrivateAttr(default=None)

    @property
    def reply_route(self) -> ReplyRoute | None:
        return self._reply_route

    def routed(self, route: ReplyRoute) -> InboundMessage:
        """This message, its reply going to ``route`` instead of the callback URL."""
        self._reply_route = route
        return self

    @field_validator("sent_at", mode="before")
    @classmethod
    def _date_time_string(cls, value: Any) -> Any:
        # The schema says a date-time string; a bare number would be read as a Unix time.
        if not isinstance(value, str | datetime):
            raise ValueError("sent_at must be an ISO 8601 date-time, e.g. 2026-11-22T06:00:00Z")
        return value

    @field_validator("sent_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        # Stored in UTC: year 1 at +03:00 has no UTC time, and follow-up arithmetic near year
        # 9999 overflows. Real messages lie far inside these bounds.
        if value.tzinfo is None:
            raise ValueError("sent_at needs a time zone, e.g. 2026-11-22T06:00:00Z or +07:00")
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            utc = None
        if utc is None or not (_EARLIEST <= utc.replace(tzinfo=None) < _LATEST):
            raise ValueError("sent_at must lie between 1970-01-01 and 9000-01-01 (UTC)")
        return value

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text must contain at least one non-space character")
        return value


class Reply(BaseModel):
    text: str
    language: str


class LifecycleStageChanged(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    type: Literal["lifecycle_stage_changed"] = "lifecycle_stage_changed"
    from_stage: str | None = Field(alias="from")
    to: str
    reason: str
    evidence: str
    confidence: float | None


class LeadLost(BaseModel):
    type: Literal["lead_lost"] = "lead_lost"
    stage: str
    reason: str
    evidence: str


class HandoffAction(BaseModel):
    type: Literal["handoff"] = "handoff"
    team: str
    reason: str
    summary: str


class FieldsUpdated(BaseModel):
    type: Literal["fields_updated"] = "fields_updated"
    fields: dict[str, str]


class CallbackContact(BaseModel):
    """The phone number or e-mail a customer gave for the call-back a closed team promised:
    stored on the contact and in the handoff's summary."""

    type: Literal["callback_contact"] = "callback_contact"
    team: str
    phone: str | None = Field(description="E.164, e.g. +84909123456; null when only an e-mail.")
    email: str | None


Action = Annotated[
    LifecycleStageChanged | LeadLost | HandoffAction | FieldsUpdated | CallbackContact,
    Field(discriminator="type"),
]


class ContactSummary(BaseModel):
    id: str
    lifecycle_stage: str
    lost: bool
    lost_reason: str | None = None
    assigned_to: str | None
    owner: Literal["ai", "human"] = "ai"
    fields: dict[str, Any]


class TurnUsage(BaseModel):
    """What the turn cost: which brain answered, model calls and tokens."""

    brain: str
    model: str
    prompt_version: str
    model_calls: int
    input_tokens: int
    output_tokens: int


class MessageResponse(BaseModel):
    """The answer to send and what the agent did."""

    message_id: str
    status: Literal["replied", "silent", "merged"] = Field(
        description="`merged`: answered together with later messages of a burst; see `answered_by`."
    )
    reply: Reply | None
    actions: list[Action]
    contact: ContactSummary
    turn_id: str | None = None
    usage: TurnUsage | None = None
    answered_by: str | None = Field(
        default=None,
        description="For a merged message: the message_id whose response carries the reply.",
    )
    retrieval: RetrievalInfo | None = Field(
        default=None,
        description="How the turn's knowledge was retrieved: whether the vector index answered "
        "and, when it did not, why and what answered instead.",
    )

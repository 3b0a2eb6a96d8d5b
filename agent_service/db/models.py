"""Database tables. Every row belongs to a workspace."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and read back time-zone aware, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware one")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Workspace(Base):
    __tablename__ = "workspaces"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Qualification rule, default team, language, business description.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Moved by database triggers on every change to the workspace's configuration or
    # knowledge (migration 0008): the per-process caches of both are checked against them.
    config_revision: Mapped[int] = mapped_column(Integer, server_default="0")
    knowledge_revision: Mapped[int] = mapped_column(Integer, server_default="0")
    # Set when a knowledge change was stored while the vector index did not answer (a new
    # token each time); cleared by the catch-up once the index holds the stored entries
    # (migration 0013, knowledge_base/store.py).
    index_pending: Mapped[str | None] = mapped_column(String(40))


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    roles: Mapped[list[Any]] = mapped_column(JSON)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LifecycleStage(Base):
    __tablename__ = "lifecycle_stages"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    lost: Mapped[bool] = mapped_column(Boolean, default=False)
    ai_settable: Mapped[bool] = mapped_column(Boolean, default=True)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)


class QualificationField(Base):
    __tablename__ = "qualification_fields"
    __table_args__ = (UniqueConstraint("workspace_id", "name"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    choices: Mapped[list[Any]] = mapped_column(JSON, default=list)
    synonyms: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    question: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # What a handoff does when the team is closed or nobody is online.
    fallback: Mapped[str] = mapped_column(String(20), default="collect_contact")
    # The messaging layer's latest online signal; null until it sends one.
    online_agents: Mapped[int | None] = mapped_column(Integer)
    availability_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IntentExample(Base):
    __tablename__ = "intent_examples"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    intent: Mapped[str] = mapped_column(String(50))
    text: Mapped[str] = mapped_column(Text)


class PromptVersion(Base):
    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("workspace_id", "name", "version"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KnowledgeEntry(Base):
    __tablename__ = "knowledge_entries"
    __table_args__ = (
        Index("uq_knowledge_entries_external_id", "workspace_id", "external_id", unique=True),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    # The entry's id in the system it was imported from; a re-import updates it (migration 0011).
    external_id: Mapped[str | None] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Retrieval representations besides Chroma's vector (knowledge_base/representations.py).
    vectors: Mapped[bytes | None] = mapped_column(LargeBinary)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("workspace_id", "external_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(20))
    language: Mapped[str | None] = mapped_column(String(10))
    lifecycle_stage: Mapped[str] = mapped_column(String(100))
    lost: Mapped[bool] = mapped_column(Boolean, default=False)
    lost_reason: Mapped[str | None] = mapped_column(Text)
    # "ai" while the agent answers; "human" after a handoff until released.
    owner: Mapped[str] = mapped_column(String(10), default="ai")
    assigned_to: Mapped[str | None] = mapped_column(String(100))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pending_field: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Which replica answers the contact now, and until when unless it renews
    # (conversations/leases.py); both null when nobody does.
    turn_leased_by: Mapped[str | None] = mapped_column(String(80))
    turn_leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The ``created_at`` of the contact's newest message, kept by a trigger on ``messages``
    # (migration 0014): every writer of a message moves it. Null while it has none.
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Name, phone and e-mail folded for search (core/search.py), written with them.
    search_text: Mapped[str | None] = mapped_column(Text)


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("workspace_id", "channel", "channel_message_id"),
        Index("ix_messages_status_contact", "status", "contact_id"),
    )
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    direction: Mapped[str] = mapped_column(String(10))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(20))
    # The channel's own id for inbound messages (the idempotency key); null for replies.
    channel_message_id: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(10))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))  # received | processed | failed
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    turn_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The turn's failed attempts, oldest first: {"at", "error", "model_calls", "input_tokens",
    # "output_tokens", "replica"} (conversations/attempts.py); null while none failed.
    attempt_log: Mapped[list[Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # why the last attempt failed
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the next attempt, not before


class Turn(Base):
    """One agent run: what it saw, what it decided, what it cost."""

    __tablename__ = "turns"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    inbound_message_id: Mapped[str] = mapped_column(String(40))
    # schemas.brains.Brain: "llm" | "offline-planner" | "llm+offline-planner" | "conversation-cap"
    # | "callback-contact"
    brain: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(200))
    prompt_version: Mapped[str] = mapped_column(String(200))
    model_calls: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    retrieved: Mapped[list[Any]] = mapped_column(JSON, default=list)
    tool_calls: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    # schemas.retrieval.RetrievalStatus: whether the vector index answered this turn's
    # searches ("ok") or why not; null for turns stored before migration 0013.
    retrieval: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StageChange(Base):
    """A lifecycle move or lost mark, with who made it and why."""

    __tablename__ = "stage_changes"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "stage" | "lost"
    from_stage: Mapped[str | None] = mapped_column(String(100))
    to_stage: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(10))  # "ai" | "human" | "system"
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float)
    prompt_version: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    turn_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Handoff(Base):
    __tablename__ = "handoffs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    team: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    turn_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # From the contact's first message to this handoff (the speed report walks it).
    minutes_after_first_message: Mapped[float | None] = mapped_column(Float)


class ContactEvent(Base):
    __tablename__ = "contact_events"
    __table_args__ = (UniqueConstraint("workspace_id", "event_id"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(50))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    response: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- Audit log and stage approvals ---
class AuditEntry(Base):
    """A configuration change: who (key id), what, when, and the value before and after."""

    __tablename__ = "audit_entries"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(50))  # e.g. "knowledge.update"
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str | None] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class PendingApproval(Base):
    """An AI stage move or lost mark into a stage that needs a human's approval."""

    __tablename__ = "pending_approvals"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # "stage" | "lost"
    from_stage: Mapped[str | None] = mapped_column(String(100))
    to_stage: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float)
    prompt_version: Mapped[str | None] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    turn_id: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="pending")  # approved | rejected
    decided_by: Mapped[str | None] = mapped_column(String(40))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- Delivery: callback settings and the outbox ---
class DeliverySettings(Base):
    """How a workspace talks with its messaging layer: callback URL and the shared secrets."""

    __tablename__ = "delivery_settings"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    callback_url: Mapped[str | None] = mapped_column(String(2000))
    # Kept in clear: an HMAC needs the secret itself, not a hash of it.
    callback_secret: Mapped[str | None] = mapped_column(String(200))
    signing_secret: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OutboxCallback(Base):
    """A response owed to the messaging layer by callback, kept until it is acknowledged."""

    __tablename__ = "callback_outbox"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    # One callback per inbound message: the unique key makes repeats of an async request harmless.
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(20), index=True)  # waiting|pending|delivered|failed
    body: Mapped[str | None] = mapped_column(Text)  # the exact bytes signed and sent
    # Where a follow-up nudge goes when the workspace only has the legacy
    # `callback_url` setting; None = the workspace's delivery settings.
    callback_url: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A message that came through a channel connection (migration 0015): its reply goes to
    # that platform, at ``route`` (channels/), instead of the workspace's callback URL.
    # ``parts_sent``: requests of the reply the platform accepted (a retry sends the rest).
    connection_id: Mapped[str | None] = mapped_column(String(40))
    route: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ChannelConnection(Base):
    """A messaging platform connected directly: WhatsApp, Telegram, LINE or Chatwoot.

    ``settings`` holds what may be shown (a phone number id, an account id); ``secrets`` the
    tokens, kept in clear like the delivery secrets (a signature check needs the secret
    itself) and never returned or logged. The counters say what the webhook acknowledged.
    """

    __tablename__ = "channel_connections"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    type: Mapped[str] = mapped_column(String(20))  # whatsapp | telegram | line | chatwoot
    name: Mapped[str] = mapped_column(String(200))
    api_base_url: Mapped[str] = mapped_column(String(2000))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secrets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Text messages handed to the turn, and events acknowledged without an answer (statuses,
    # unsupported types): the latest one's description and when the webhook last spoke.
    messages_accepted: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    events_ignored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_ignored: Mapped[str | None] = mapped_column(Text)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- Model usage ---
class ModelUsageDaily(Base):
    """Model tokens a workspace used on one UTC day; the daily cap reads it."""

    __tablename__ = "model_usage_daily"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model_calls: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(Integer, default=0)


# --- Rate limits ---
class RateBucket(Base):
    """A token bucket every replica charges: a workspace's (``subject`` empty) or a contact's.

    Charged in the transaction that stores a message (conversations/rate_limits.py). Times are
    seconds since the epoch by the service clock, so the refill is arithmetic in one statement
    on SQLite and PostgreSQL alike; ``rate`` and ``capacity`` are the settings last charged with.
    """

    __tablename__ = "rate_buckets"
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)  # workspace | contact
    subject: Mapped[str] = mapped_column(String(200), primary_key=True)  # contact external id
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    rate: Mapped[float] = mapped_column(Float)
    capacity: Mapped[int] = mapped_column(Integer)


# --- Conversions, contact sources, follow-ups ---
class Conversion(Base):
    """A conversion event (booking, checkout, purchase...) with its value, for attribution."""

    __tablename__ = "conversions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(50))
    value: Mapped[float | None] = mapped_column(Float)
    currency: Mapped[str | None] = mapped_column(String(3))
    # Given by the event, else the contact's first channel and campaign.
    channel: Mapped[str | None] = mapped_column(String(20))
    campaign: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ContactSource(Base):
    """Where a contact came from (first inbound message): the key of report filters."""

    __tablename__ = "contact_sources"
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    channel: Mapped[str | None] = mapped_column(String(20))
    campaign: Mapped[str | None] = mapped_column(String(200))
    first_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The first message sent to the contact, kept by every outbound write (the speed report).
    first_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_seconds: Mapped[float | None] = mapped_column(Float)


class FollowUp(Base):
    """One planned nudge (or the final cold-lead mark) for a contact who went quiet."""

    __tablename__ = "follow_ups"
    # One row per step of one silence: two schedulers cannot plan the same step twice.
    __table_args__ = (UniqueConstraint("contact_id", "anchor_message_id", "step"),)
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"), index=True)
    # The customer's last message before the silence; a newer one cancels the plan.
    anchor_message_id: Mapped[str] = mapped_column(String(40))
    step: Mapped[int] = mapped_column(Integer)  # 1..N nudges, N+1 the cold-lead mark
    kind: Mapped[str] = mapped_column(String(10))  # "nudge" | "cold"
    channel: Mapped[str] = mapped_column(String(20))
    silence_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # pending -> claimed (inside the sending transaction) -> sent | cancelled | skipped | done
    status: Mapped[str] = mapped_column(String(10), index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str | None] = mapped_column(String(40))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Report queries scan by workspace and time; these keep them fast at 1M messages.
Index(
    "ix_stage_changes_ws_created",  # covering for the funnel and AI-versus-human scans
    StageChange.workspace_id,
    StageChange.created_at,
    StageChange.contact_id,
    StageChange.kind,
    StageChange.to_stage,
    StageChange.actor,
)
Index(
    "ix_stage_changes_contact_created",  # covering for "what happened next" lookups
    StageChange.contact_id,
    StageChange.created_at,
    StageChange.kind,
    StageChange.to_stage,
)
Index("ix_messages_contact_dir_created", Message.contact_id, Message.direction, Message.created_at)
Index(  # Covering for the handoff counts and filters
    "ix_handoffs_ws_created",
    Handoff.workspace_id,
    Handoff.created_at,
    Handoff.contact_id,
    Handoff.team,
    Handoff.minutes_after_first_message,
)
Index("ix_turns_ws_created", Turn.workspace_id, Turn.created_at, Turn.contact_id, Turn.latency_ms)
# Both covering for the segments, the list in its order.
Index(
    "ix_contacts_ws_stage",
    Contact.workspace_id,
    Contact.lifecycle_stage,
    Contact.updated_at,
    Contact.id,
)
Index(
    "ix_contacts_ws_updated",
    Contact.workspace_id,
    Contact.updated_at,
    Contact.lifecycle_stage,
    Contact.id,
)
Index("ix_contact_events_contact_type", ContactEvent.contact_id, ContactEvent.type)
# The contact list in its order, and within a stage; a contact's messages in order.
Index("ix_contacts_ws_last_message", Contact.workspace_id, Contact.last_message_at, Contact.id)
Index(
    "ix_contacts_ws_stage_last_message",
    Contact.workspace_id,
    Contact.lifecycle_stage,
    Contact.last_message_at,
    Contact.id,
)
Index("ix_messages_contact_created", Message.contact_id, Message.created_at)


# --- Evaluation runs ---
class EvalRun(Base):
    """An eval run started through the API: its request, progress and final report."""

    __tablename__ = "eval_runs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # queued | running | completed | failed
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The throwaway copy of the workspace the cases ran in.
    eval_workspace_id: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# --- Report roll-ups ---
class StageStay(Base):
    """One stage change seen as a stay: when it began, when the contact's next change ended it.

    Derived from ``stage_changes`` (``stage_stays.refresh_stays``) in the transaction that
    writes them, so the funnel is a few indexed counts instead of self-joins.
    """

    __tablename__ = "stage_stays"
    stage_change_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workspace_id: Mapped[str] = mapped_column(ForeignKey("workspaces.id"))
    contact_id: Mapped[str] = mapped_column(ForeignKey("contacts.id"))
    kind: Mapped[str] = mapped_column(String(20))  # as the stage change: "stage" | "lost"
    stage: Mapped[str] = mapped_column(String(100))
    actor: Mapped[str] = mapped_column(String(10))  # as the stage change: "ai" | "human" | "system"
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: still there
    hours: Mapped[float | None] = mapped_column(Float)
    # The contact's previous entry into the same stage: "entered in the period" without DISTINCT.
    previous_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Stages the contact entered from this moment on, JSON strings side by side ('"A""B"').
    later_stages: Mapped[str] = mapped_column(Text, default="")


Index(
    "ix_stage_stays_entries",  # covering for the funnel's entries, conversions and filters
    StageStay.workspace_id,
    StageStay.stage,
    StageStay.entered_at,
    StageStay.previous_entry_at,
    StageStay.kind,
    StageStay.hours,
    StageStay.contact_id,
    StageStay.later_stages,
)
Index(  # refreshing a contact's stays; the funnel of a filtered few contacts, contact by contact
    "ix_stage_stays_contact",
    StageStay.contact_id,
    StageStay.stage,
    StageStay.kind,
    StageStay.entered_at,
    StageStay.previous_entry_at,
    StageStay.hours,
    StageStay.actor,
    StageStay.later_stages,
)
Index(  # who moved the funnel (AI versus human)
    "ix_stage_stays_actor",
    StageStay.workspace_id,
    StageStay.actor,
    StageStay.kind,
    StageStay.entered_at,
)
Index(  # time in stage: walk the durations in order to the percentile's rank
    "ix_stage_stays_hours",
    StageStay.workspace_id,
    StageStay.stage,
    StageStay.hours,
    StageStay.entered_at,
    StageStay.kind,
    StageStay.contact_id,
)
Index("ix_turns_ws_latency", Turn.workspace_id, Turn.latency_ms, Turn.created_at, Turn.contact_id)
Index("ix_turns_contact_latency", Turn.contact_id, Turn.created_at, Turn.latency_ms)  # filtered
Index(
    "ix_contact_sources_ws_response",
    ContactSource.workspace_id,
    ContactSource.first_response_seconds,
    ContactSource.first_message_at,
    ContactSource.contact_id,
)
Index(  # covering for leads by campaign and channel, and contacts started in a period
    "ix_contact_sources_ws_first",
    ContactSource.workspace_id,
    ContactSource.first_message_at,
    ContactSource.channel,
    ContactSource.campaign,
    ContactSource.first_response_seconds,
    ContactSource.contact_id,
)
Index(  # the channel and campaign filters
    "ix_contact_sources_ws_channel",
    ContactSource.workspace_id,
    ContactSource.channel,
    ContactSource.campaign,
    ContactSource.contact_id,
)
Index(
    "ix_contact_sources_ws_campaign",
    ContactSource.workspace_id,
    ContactSource.campaign,
    ContactSource.contact_id,
)
Index("ix_handoffs_ws_team", Handoff.workspace_id, Handoff.team, Handoff.contact_id)
Index("ix_contacts_ws_created", Contact.workspace_id, Contact.created_at, Contact.id)
Index("ix_contacts_id_created", Contact.id, Contact.created_at)  # a row's contact, when it began
Index(  # covering for the lost report's months; its reasons are read from the rows
    "ix_stage_changes_ws_kind",
    StageChange.workspace_id,
    StageChange.kind,
    StageChange.created_at,
    StageChange.to_stage,
    StageChange.from_stage,
)
Index(
    "ix_handoffs_ws_minutes",
    Handoff.workspace_id,
    Handoff.minutes_after_first_message,
    Handoff.created_at,
    Handoff.contact_id,
)

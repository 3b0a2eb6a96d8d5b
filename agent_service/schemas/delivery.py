"""Asynchronous delivery: the 202 acknowledgement, the callback body, a workspace's settings."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, Field, UrlConstraints

from agent_service.schemas.base import Patch
from agent_service.schemas.messages import MessageResponse

SECRET = Field(
    default=None,
    min_length=16,
    max_length=200,
    description="A shared secret of 16 to 200 characters; null removes it.",
)


class MessageAccepted(BaseModel):
    """The message is stored; the response will be POSTed to the workspace's callback URL."""

    message_id: str
    status: Literal["accepted"] = "accepted"
    idempotency_key: str = Field(description="Sent as `Idempotency-Key` with the callback.")


class CallbackBody(BaseModel):
    """What the callback URL receives, signed with `X-Signature-256: sha256=<hex>`."""

    type: Literal["message.response"] = "message.response"
    workspace_id: str
    idempotency_key: str
    response: MessageResponse


class DeliveryUpdate(Patch):
    """Fields sent are replaced (null clears them); fields left out stay as they are."""

    clearable = frozenset({"callback_url", "callback_secret", "signing_secret"})

    callback_url: Annotated[AnyHttpUrl, UrlConstraints(max_length=2000)] | None = Field(
        default=None, description="Where responses to `Prefer: respond-async` requests are sent."
    )
    callback_secret: str | None = SECRET
    signing_secret: str | None = SECRET


class DeliveryPublic(BaseModel):
    """The workspace's delivery settings; secrets are never returned, only whether they are set."""

    callback_url: str | None
    callback_secret_set: bool
    signing_secret_set: bool
    updated_at: datetime | None
    callbacks: dict[str, int] = Field(
        default_factory=dict,
        description="Callbacks by status: waiting (turn running), pending, delivered, failed.",
    )

"""What every platform module provides, and what they share: a webhook read into messages,
conversation events and ignored events; a response turned into the platform's requests."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent_service.channels.splitting import split_text
from agent_service.schemas.contacts import ContactEventIn
from agent_service.schemas.messages import HandoffAction, InboundMessage, MessageResponse


@dataclass
class Webhook:
    """One webhook delivery as read by a platform module."""

    messages: list[InboundMessage] = field(default_factory=list)
    # Conversation events (Chatwoot): (contact id, event), applied as POST
    # /v1/contacts/{id}/events would, before the messages of the same delivery.
    events: list[tuple[str, ContactEventIn]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # what was acknowledged, unanswered


@dataclass(frozen=True)
class Step:
    """One request to the platform. ``instead``: the request to make when the platform refuses
    this one with a 4xx (LINE: push when the reply token is no longer valid)."""

    url: str
    json: dict[str, Any]
    headers: dict[str, str]
    what: str
    instead: Step | None = None


class NotSendable(Exception):
    """The reply cannot be sent and retrying will not change that (e.g. WhatsApp's 24-hour
    window has closed): recorded as not sent, with this reason."""


def hmac_sha256(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def same(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a secret with what the request carried."""
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def reply_parts(response: MessageResponse, limit: int) -> list[str]:
    """The reply cut into the platform's messages of at most ``limit`` characters, or none
    (silent while a human owns the conversation; merged into a later message's reply)."""
    if response.status != "replied" or response.reply is None:
        return []
    return split_text(response.reply.text, limit)


def handoff(response: MessageResponse) -> HandoffAction | None:
    for action in response.actions:
        if isinstance(action, HandoffAction):
            return action
    return None


def from_unix(value: Any, now: datetime, scale: float = 1.0) -> datetime:
    """A platform's Unix time (seconds, or milliseconds with ``scale`` 1000); ``now`` when it
    is missing or absurd."""
    try:
        seconds = float(value) / scale
        when = datetime.fromtimestamp(seconds, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return (
        when if datetime(1971, 1, 1, tzinfo=UTC) < when < datetime(9000, 1, 1, tzinfo=UTC) else now
    )


def as_dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def clip(text: str, limit: int) -> str:
    """A customer's text within the service's message limit (a webhook cannot be refused for
    it: the platform would redeliver it for days)."""
    return text if len(text) <= limit else text[:limit]

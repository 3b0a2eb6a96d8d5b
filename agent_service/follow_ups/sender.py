"""Delivering follow-up nudges to the messaging layer.

The nudge is already stored as an outbound message when ``send`` is called; the sender only
tells the messaging layer. A nudge with somewhere to go goes through the callback outbox, retried
until acknowledged like every answer: to the workspace's delivery settings (PUT
/v1/workspaces/current/delivery, signed), else to the legacy `callback_url` setting (unsigned: no
secret comes with it). Only a nudge with no URL at all reaches a ``FollowUpSender`` (tests inject
a recording one; the default has nothing to do).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from agent_service.core.ids import new_id
from agent_service.db import models


@dataclass(frozen=True)
class Nudge:
    """A follow-up message to deliver on the contact's channel."""

    workspace_id: str
    contact_id: str  # the channel-side contact id
    channel: str
    text: str
    language: str
    step: int
    last: bool
    follow_up_id: str
    message_id: str
    callback_url: str | None

    def as_json(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("callback_url")
        return {"type": "follow_up", **body}


def nudge_callback(nudge: Nudge, now: datetime, url: str | None = None) -> models.OutboxCallback:
    """The nudge as a due callback row, retried by the delivery dispatcher; ``url`` for the
    legacy setting (else the workspace's delivery settings, signed)."""
    key = f"follow_up:{nudge.follow_up_id}"
    return models.OutboxCallback(
        id=new_id("cb"),
        workspace_id=nudge.workspace_id,
        message_id=nudge.message_id,
        idempotency_key=key,
        status="pending",
        body=json.dumps({**nudge.as_json(), "idempotency_key": key}, ensure_ascii=False),
        attempts=0,
        next_attempt_at=now,
        callback_url=url,
        created_at=now,
    )


class FollowUpSender(Protocol):
    async def send(self, nudge: Nudge) -> None:
        """Deliver the nudge; raise to record a delivery error (it is not retried)."""


class CallbackFollowUpSender:
    """POSTs each nudge to its callback URL; without one the stored message is the record."""

    def __init__(
        self, timeout_seconds: float = 5.0, transport: httpx.AsyncBaseTransport | None = None
    ):
        self._timeout, self._transport = timeout_seconds, transport

    async def send(self, nudge: Nudge) -> None:
        if not nudge.callback_url:
            return
        async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as http:
            response = await http.post(nudge.callback_url, json=nudge.as_json())
            response.raise_for_status()

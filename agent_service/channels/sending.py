"""A reply owed to a platform, sent from its outbox row: the platform module's requests, in
order, from the first one the platform has not accepted yet.

The callback dispatcher (workers/callbacks.py) leases the row and records the outcome as for
any callback: a 5xx, a 429, a timeout or a refused connection is retried with back-off; a
refusal no retry can change (WhatsApp's closed 24-hour window, a request the platform calls
malformed) ends the row as ``failed`` with the reason, at once. ``parts_sent`` keeps the
requests already accepted, so a retry never sends a part of a long reply twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.channels import chatwoot, connections, line, telegram, whatsapp
from agent_service.channels.connections import Connection
from agent_service.channels.platform import NotSendable, Step
from agent_service.core.clock import stored_datetime
from agent_service.db import models
from agent_service.schemas.delivery import CallbackBody

log = logging.getLogger("agent_service.channels")

PLATFORMS: dict[str, ModuleType] = {
    "whatsapp": whatsapp,
    "telegram": telegram,
    "line": line,
    "chatwoot": chatwoot,
}
# Refusals a retry may cure: the platform's own trouble, rate limits, and credentials an
# admin can fix with PATCH /v1/channels/{id} while the row waits.
RETRIED_4XX = frozenset({401, 403, 408, 409, 425, 429})


@dataclass(frozen=True)
class Outcome:
    """What one attempt achieved: requests accepted so far, and the error if it stopped."""

    parts_sent: int
    error: str | None = None
    permanent: bool = False


async def deliver(
    client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    row: models.OutboxCallback,
    now: datetime,
) -> Outcome:
    """Send what is left of the row's reply to its platform."""
    done = row.parts_sent or 0
    connection = await connections.load(sessions, row.connection_id or "")
    if connection is None:
        return Outcome(done, "not sent: the channel connection was deleted", permanent=True)
    module = PLATFORMS[connection.type]
    response = CallbackBody.model_validate_json(row.body or "{}").response
    try:
        if connection.type == "whatsapp" and done == 0:
            whatsapp.check_window(await _last_customer_message(sessions, row.message_id), now)
        steps: list[Step] = module.steps(
            connection, row.route or {}, response, row.attempts == 0, now
        )
    except NotSendable as exc:
        return Outcome(done, str(exc), permanent=True)
    for step in steps[done:]:
        error, permanent = await _request(client, module, connection, step)
        if error is not None and step.instead is not None and permanent:
            error, permanent = await _request(client, module, connection, step.instead)
        if error is not None:
            log.warning(
                "a reply to %s was not accepted",
                connection.type,
                extra={
                    "fields": {
                        "connection_id": connection.id,
                        "callback_id": row.id,
                        "step": step.what,
                        "error": error,
                        "permanent": permanent,
                    }
                },
            )
            return Outcome(done, error, permanent)
        done += 1
    return Outcome(done)


async def _request(
    client: httpx.AsyncClient, module: ModuleType, connection: Connection, step: Step
) -> tuple[str | None, bool]:
    """(None, False) when the platform accepted the request; else the error and whether a
    retry could change it. Errors never carry the URL or a header: they hold tokens."""
    try:
        response = await client.post(step.url, json=step.json, headers=step.headers)
    except httpx.HTTPError as exc:
        return _scrub(f"{step.what} failed: {type(exc).__name__}: {exc}", connection), False
    status = response.status_code
    accepted = getattr(module, "accepted", None)
    if 200 <= status < 300 or (accepted is not None and accepted(step, status)):
        return None, False
    body = _json(response)
    reason = module.permanent(status, body)
    if reason is not None:
        return reason, True
    summary = _scrub(f"{step.what}: the platform answered {status} {_detail(body)}", connection)
    if status >= 500 or status in RETRIED_4XX:
        return summary.strip(), False
    return f"not sent: {summary.strip()}", True


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return None


def _detail(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for key in ("error", "description", "message"):
        value = body.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("error_user_msg")
        if isinstance(value, str) and value:
            return f"({value[:300]})"
    return ""


def _scrub(text: str, connection: Connection) -> str:
    for value in connection.values.values():
        if isinstance(value, str) and len(value) >= 6:
            text = text.replace(value, "***")
    return text


async def _last_customer_message(
    sessions: async_sessionmaker[AsyncSession], message_row_id: str
) -> datetime | None:
    """When the contact of this message last wrote on WhatsApp (the window opens there)."""
    message = models.Message
    async with sessions() as session:
        contact_id = await session.scalar(
            select(message.contact_id).where(message.id == message_row_id)
        )
        if contact_id is None:
            return None
        latest = await session.scalar(
            select(func.max(message.sent_at)).where(
                message.contact_id == contact_id,
                message.direction == "in",
                message.channel == "whatsapp",
            )
        )
    return stored_datetime(latest)

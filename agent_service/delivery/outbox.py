"""The callback outbox: responses owed by callback, written in the turn's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.schemas.delivery import CallbackBody
from agent_service.schemas.messages import MessageResponse, ReplyRoute


def idempotency_key(channel: str, channel_message_id: str) -> str:
    """Stable across repeats of the same message, so the receiver can drop repeated callbacks."""
    return f"{channel}:{channel_message_id}"


def new_callback(
    workspace_id: str, message: models.Message, now: datetime, route: ReplyRoute | None = None
) -> models.OutboxCallback:
    """The callback row of a message stored just now (no answer can exist yet); with
    ``route`` (a channel connection's message) the reply goes to that platform."""
    return models.OutboxCallback(
        **callback_values(
            workspace_id, message.id, message.channel, message.channel_message_id, now, route
        )
    )


def callback_values(
    workspace_id: str,
    message_id: str,
    channel: str,
    channel_message_id: str | None,
    now: datetime,
    route: ReplyRoute | None = None,
) -> dict[str, Any]:
    """The columns of ``new_callback``'s row, for a Core insert of many (intake's batches)."""
    return {
        "connection_id": route.connection_id if route is not None else None,
        "route": route.address if route is not None else None,
        "parts_sent": 0,
        "id": new_id("cb"),
        "workspace_id": workspace_id,
        "message_id": message_id,
        "idempotency_key": idempotency_key(channel, channel_message_id or message_id),
        "status": "waiting",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def ensure_callback(
    session: AsyncSession, workspace_id: str, message: models.Message, now: datetime
) -> models.OutboxCallback:
    """The message's callback row, created once; filled at once if the answer already exists."""
    row = await session.scalar(select(models.OutboxCallback).filter_by(message_id=message.id))
    if row is not None:
        return row
    row = new_callback(workspace_id, message, now)
    session.add(row)
    await session.flush()
    # Read the answer again under the write lock: a turn that committed meanwhile found no row.
    answer = await session.scalar(
        select(models.Message.response).where(models.Message.id == message.id).with_for_update()
    )
    if answer is not None:
        _fill(row, workspace_id, MessageResponse.model_validate(answer), now)
    return row


# Built once: every turn's save runs it (see turn_outcome.py).
_WAITING_CALLBACKS = select(models.OutboxCallback).where(
    models.OutboxCallback.message_id.in_(bindparam("message_ids", expanding=True)),
    models.OutboxCallback.status == "waiting",
)


async def fill_callbacks(
    session: AsyncSession,
    workspace_id: str,
    responses: dict[str, MessageResponse],
    now: datetime,
) -> bool:
    """Inside the turn's transaction: the waiting callbacks of these messages become due."""
    rows = (await session.scalars(_WAITING_CALLBACKS, {"message_ids": list(responses)})).all()
    for row in rows:
        _fill(row, workspace_id, responses[row.message_id], now)
    return bool(rows)


def _fill(
    row: models.OutboxCallback, workspace_id: str, response: MessageResponse, now: datetime
) -> None:
    body = CallbackBody(
        workspace_id=workspace_id, idempotency_key=row.idempotency_key, response=response
    )
    row.body = body.model_dump_json(by_alias=True)
    row.status, row.next_attempt_at = "pending", now


async def queued_callbacks(session: AsyncSession) -> dict[str, int]:
    """Callbacks not sent yet, all workspaces: ``waiting`` for their turn's answer, ``pending``
    (due, or waiting for a retry). Read by a metrics scrape, on the status index."""
    counts = {"waiting": 0, "pending": 0}
    rows = await session.execute(
        select(models.OutboxCallback.status, func.count())
        .where(models.OutboxCallback.status.in_(list(counts)))
        .group_by(models.OutboxCallback.status)
    )
    for status, count in rows.all():
        counts[status] = int(count)
    return counts

"""A workspace's callback URL and secrets, stored in ``delivery_settings``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models
from agent_service.schemas.delivery import DeliveryPublic, DeliveryUpdate


async def callback_counts(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> dict[str, int]:
    """How many callbacks are waiting, pending, delivered or failed: failures show here."""
    async with sessions() as session:
        rows = await session.execute(
            select(models.OutboxCallback.status, func.count())
            .where(models.OutboxCallback.workspace_id == workspace_id)
            .group_by(models.OutboxCallback.status)
        )
        return {status: int(count) for status, count in rows.all()}


async def load(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str
) -> models.DeliverySettings | None:
    async with sessions() as session:
        return await read(session, workspace_id)


async def read(session: AsyncSession, workspace_id: str) -> models.DeliverySettings | None:
    return await session.get(models.DeliverySettings, workspace_id)


def public(row: models.DeliverySettings | None) -> DeliveryPublic:
    if row is None:
        return DeliveryPublic(
            callback_url=None, callback_secret_set=False, signing_secret_set=False, updated_at=None
        )
    return DeliveryPublic(
        callback_url=row.callback_url,
        callback_secret_set=row.callback_secret is not None,
        signing_secret_set=row.signing_secret is not None,
        updated_at=row.updated_at,
    )


async def update(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    change: DeliveryUpdate,
    now: datetime,
) -> DeliveryPublic:
    """Replace the fields the caller sent; leave the others."""
    async with sessions() as session, session.begin():
        row = await session.get(models.DeliverySettings, workspace_id)
        if row is None:
            row = models.DeliverySettings(workspace_id=workspace_id, updated_at=now)
            session.add(row)
        sent = change.model_fields_set
        if "callback_url" in sent:
            row.callback_url = str(change.callback_url) if change.callback_url else None
        if "callback_secret" in sent:
            row.callback_secret = change.callback_secret
        if "signing_secret" in sent:
            row.signing_secret = change.signing_secret
        row.updated_at = now
    return public(row)

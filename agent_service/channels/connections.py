"""Channel connections: stored, edited, read by their webhooks; the one writer of their rows.

Secrets are stored as given (a signature check needs the secret itself, as for the delivery
secrets) and leave this module only inside ``Connection`` for the webhook and the sender:
never in a public view, an audit row or a log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.core.errors import Invalid, NotFound
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.db.write_gate import WriteGate
from agent_service.schemas.channels import (
    DEFAULT_API_BASE_URL,
    PUBLIC_CREDENTIALS,
    ChannelPublic,
    credential_names,
    split_credentials,
)


class ConnectionNotFound(NotFound):
    """The message is the connection id."""

    @property
    def detail(self) -> str:
        return f"channel connection '{self}' not found in this workspace (see GET /v1/channels)"


class CredentialNotAllowed(Invalid):
    """A credential another platform's connection has."""


@dataclass(frozen=True)
class Connection:
    """What a webhook and the sender need of a connection, secrets included."""

    id: str
    workspace_id: str
    type: str
    name: str
    api_base_url: str
    values: dict[str, str]  # every credential, shown and secret

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def webhook_path(channel_type: str, connection_id: str) -> str:
    return f"/channels/{channel_type}/{connection_id}"


def _connection(row: models.ChannelConnection) -> Connection:
    return Connection(
        id=row.id,
        workspace_id=row.workspace_id,
        type=row.type,
        name=row.name,
        api_base_url=row.api_base_url.rstrip("/"),
        values={**row.settings, **row.secrets},
    )


def snapshot(row: models.ChannelConnection) -> dict[str, Any]:
    """What the audit log keeps of a connection: no secret, only whether each is set."""
    return {
        "type": row.type,
        "name": row.name,
        "api_base_url": row.api_base_url,
        "credentials": _shown(row),
    }


def _shown(row: models.ChannelConnection) -> dict[str, str]:
    shown: dict[str, str] = {}
    for name in credential_names(row.type):
        if name in PUBLIC_CREDENTIALS:
            shown[name] = str(row.settings.get(name, ""))
        else:
            shown[name] = "set" if row.secrets.get(name) else "not set"
    return shown


def public(row: models.ChannelConnection) -> ChannelPublic:
    return ChannelPublic(
        id=row.id,
        type=row.type,
        name=row.name,
        webhook_path=webhook_path(row.type, row.id),
        api_base_url=row.api_base_url,
        credentials=_shown(row),
        messages_accepted=row.messages_accepted,
        events_ignored=row.events_ignored,
        last_ignored=row.last_ignored,
        last_event_at=row.last_event_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def create(
    session: AsyncSession, workspace_id: str, values: dict[str, Any], now: datetime
) -> models.ChannelConnection:
    """A new connection from a validated ``ChannelCreate`` dump (the caller commits)."""
    channel_type = values["type"]
    credentials = {name: values[name] for name in credential_names(channel_type)}
    shown, secret = split_credentials(credentials)
    row = models.ChannelConnection(
        id=new_id("chn"),
        workspace_id=workspace_id,
        type=channel_type,
        name=values["name"],
        api_base_url=str(values.get("api_base_url") or DEFAULT_API_BASE_URL[channel_type]),
        settings=shown,
        secrets=secret,
        messages_accepted=0,
        events_ignored=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def get(
    session: AsyncSession, workspace_id: str, connection_id: str
) -> models.ChannelConnection:
    row = await session.get(models.ChannelConnection, connection_id)
    if row is None or row.workspace_id != workspace_id:
        raise ConnectionNotFound(connection_id)
    return row


async def all_of(session: AsyncSession, workspace_id: str) -> list[models.ChannelConnection]:
    rows = await session.scalars(
        select(models.ChannelConnection)
        .filter_by(workspace_id=workspace_id)
        .order_by(models.ChannelConnection.created_at, models.ChannelConnection.id)
    )
    return list(rows)


def apply_update(row: models.ChannelConnection, changes: dict[str, Any], now: datetime) -> None:
    """Replace what ``changes`` names (a ``ChannelUpdate`` dump, unset fields left out)."""
    allowed = set(credential_names(row.type))
    foreign = sorted(k for k in changes if k not in allowed | {"name", "api_base_url"})
    if foreign:
        raise CredentialNotAllowed(
            f"a {row.type} connection has no {', '.join(foreign)}: its credentials are "
            + ", ".join(credential_names(row.type))
        )
    if "name" in changes:
        row.name = changes["name"]
    if "api_base_url" in changes:
        row.api_base_url = str(changes["api_base_url"])
    credentials = {k: v for k, v in changes.items() if k in allowed}
    shown, secret = split_credentials(credentials)
    # New dicts: the JSON columns are saved when replaced, not when mutated in place.
    row.settings = {**row.settings, **shown}
    row.secrets = {**row.secrets, **secret}
    row.updated_at = now


async def delete(session: AsyncSession, row: models.ChannelConnection) -> None:
    await session.delete(row)


async def load(sessions: async_sessionmaker[AsyncSession], connection_id: str) -> Connection | None:
    """A connection by id alone (a webhook knows no workspace until it found it)."""
    async with sessions() as session:
        row = await session.get(models.ChannelConnection, connection_id)
    return _connection(row) if row is not None else None


async def count_webhook(
    sessions: async_sessionmaker[AsyncSession],
    gate: WriteGate,
    connection_id: str,
    accepted: int,
    ignored: list[str],
    now: datetime,
) -> None:
    """What a webhook delivery brought: messages handed on, events acknowledged unanswered.
    Counted with one atomic UPDATE, so replicas never lose each other's counts."""
    table = models.ChannelConnection
    values: dict[str, Any] = {
        "messages_accepted": table.messages_accepted + accepted,
        "events_ignored": table.events_ignored + len(ignored),
        "last_event_at": now,
    }
    if ignored:
        values["last_ignored"] = ignored[-1][:500]
    async with gate.hold(), sessions() as session:
        await session.execute(update(table).where(table.id == connection_id).values(**values))
        await session.commit()

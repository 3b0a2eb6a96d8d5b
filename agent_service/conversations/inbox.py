"""Stored conversations: inbound messages first, then each turn's outcome in one transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.conversations.contact_state import ContactState
from agent_service.conversations.leases import TurnLeases
from agent_service.conversations.rate_limits import RateLimited, RateLimits
from agent_service.core import metrics
from agent_service.core.clock import stored_datetime
from agent_service.core.ids import new_id
from agent_service.core.search import contact_search_text
from agent_service.db import models
from agent_service.db.availability import is_unavailable
from agent_service.db.write_gate import WriteGate
from agent_service.delivery.outbox import callback_values, ensure_callback
from agent_service.lifecycle.history import add_first_stages
from agent_service.schemas.messages import CHANNELS, ContactSummary, InboundMessage
from agent_service.workspaces.config import WorkspaceNotFound


@dataclass(frozen=True)
class Received:
    """An inbound message as stored; ``duplicate`` when the channel sent it before.

    ``leased``: the store also took the contact's turn lease for this replica (one hold in
    ``TurnLeases.held``, handed to the worker answering the message)."""

    message_row_id: str
    contact_row_id: str
    duplicate: bool
    leased: bool = False


@dataclass(frozen=True)
class Arrival:
    """One delivery to store: ``charge`` it against the rate limits (the API's deliveries).

    ``arrived``: when it arrived, if it waited to be stored (queued behind a slow store): it
    is charged as of its arrival, so a backlog of the service's own making never looks like a
    flood to the rate limits."""

    workspace_id: str
    inbound: InboundMessage
    respond_async: bool = False
    charge: bool = False
    arrived: datetime | None = None

    def arrived_by(self, now: datetime) -> datetime:
        return now if self.arrived is None else min(self.arrived, now)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.workspace_id, self.inbound.channel, self.inbound.message_id)

    @property
    def contact_key(self) -> tuple[str, str]:
        return (self.workspace_id, self.inbound.contact.id)


async def receive(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    inbound: InboundMessage,
    now: datetime,
    respond_async: bool = False,
    gate: WriteGate | None = None,
    limits: RateLimits | None = None,
) -> Received:
    """Store one message (see ``receive_many``); raises what its delivery got."""
    arrival = Arrival(workspace_id, inbound, respond_async, charge=limits is not None)
    (outcome,) = await receive_many(sessions, [arrival], now, gate, limits)
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


async def receive_many(
    sessions: async_sessionmaker[AsyncSession],
    arrivals: Sequence[Arrival],
    now: datetime,
    gate: WriteGate | None = None,
    limits: RateLimits | None = None,
    leases: TurnLeases | None = None,
) -> list[Received | Exception]:
    """Store the messages (and the contacts on first contact) before anything else happens:
    every delivery of the batch in one write transaction, each with its own outcome.

    The unique key (workspace, channel, message_id) decides which delivery is the original,
    across processes and restarts; a repeat, in the batch or stored before, is ``duplicate``.
    With ``respond_async`` a callback row is stored with the message. A delivery with
    ``charge`` takes a token from its workspace's and its contact's shared bucket in the same
    transaction, or gets RateLimited and nothing of it is stored; a repeat is never charged.
    With ``leases`` the contacts' turn leases are taken for this replica in the same
    transaction, where free (``Received.leased``). A delivery whose workspace does not exist
    gets WorkspaceNotFound; the others are stored.
    """
    gate = gate or WriteGate(enabled=False)
    outcomes: list[Received | Exception | None] = [None] * len(arrivals)
    for attempt in range(6):
        try:
            done = await _receive_batch(sessions, arrivals, outcomes, now, gate, limits, leases)
            for index, outcome in done.items():
                outcomes[index] = outcome
            break
        except _Refused as refused:
            # The buckets refused some deliveries: the transaction rolled back; store the
            # others again without them.
            for index, error in refused.errors.items():
                outcomes[index] = error
        except (IntegrityError, OperationalError) as error:
            # A concurrent delivery stored the same message or contact first: look again. Not
            # when the database could not be reached or stayed busy past its timeout: the next
            # attempt would wait as long again (db/availability.py; the API answers 503).
            if attempt == 5 or is_unavailable(error):
                raise
    else:
        raise AssertionError("unreachable: every round refuses at least one delivery")
    return [o if o is not None else AssertionError("not stored") for o in outcomes]


class _Refused(Exception):
    def __init__(self, errors: dict[int, RateLimited]) -> None:
        super().__init__("rate limited")
        self.errors = errors


async def _receive_batch(
    sessions: async_sessionmaker[AsyncSession],
    arrivals: Sequence[Arrival],
    outcomes: list[Received | Exception | None],
    now: datetime,
    gate: WriteGate,
    limits: RateLimits | None,
    leases: TurnLeases | None,
) -> dict[int, Received | Exception]:
    """One attempt at the deliveries without an outcome yet: reads first, outside the writers'
    queue, then one transaction of inserts. Returns their outcomes once committed; raises
    _Refused (nothing committed) when the buckets refused some of them."""
    todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
    done: dict[int, Received | Exception] = {}
    if not todo:
        return done
    keys = {arrivals[i].key for i in todo}
    contact_keys = {arrivals[i].contact_key for i in todo}
    async with sessions() as session:
        stored = await _stored_messages(session, keys)
        contacts = await _stored_contacts(session, contact_keys)
        entry_stages = {
            workspace_id: await _entry_stage(session, workspace_id)
            for workspace_id in {w for w, _ in contact_keys if (w, _) not in contacts}
        }
    # Who is what: repeats of stored messages, repeats within the batch, and new messages.
    originals: dict[tuple[str, str, str], int] = {}
    new: list[int] = []
    for i in todo:
        arrival = arrivals[i]
        existing = stored.get(arrival.key)
        if existing is not None:
            if not arrival.respond_async:
                done[i] = Received(existing.id, existing.contact_id, duplicate=True)
            continue
        if arrival.key in originals:
            continue  # answered below, as a repeat of the batch's original
        if arrival.contact_key not in contacts and entry_stages.get(arrival.workspace_id) is None:
            done[i] = WorkspaceNotFound(arrival.workspace_id)
            continue
        if limits is not None and arrival.charge:
            try:
                limits.refuse_if_known_empty(
                    arrival.workspace_id, arrival.inbound.contact.id, arrival.arrived_by(now)
                )
            except RateLimited as known_empty:
                done[i] = known_empty
                continue
        originals[arrival.key] = i
        new.append(i)
    async with gate.hold(urgent=True), sessions() as session, session.begin():
        stored_now: dict[tuple[str, str, str], Received] = {}
        for i in todo:  # repeats of stored messages that want a callback
            existing = stored.get(arrivals[i].key)
            if existing is not None and i not in done:
                await ensure_callback(session, arrivals[i].workspace_id, existing, now)
                done[i] = Received(existing.id, existing.contact_id, duplicate=True)
        contact_ids = await _contacts_for(session, arrivals, new, contacts, entry_stages, now)
        wants_callback = {
            arrivals[i].key for i in todo if arrivals[i].respond_async and i not in done
        }
        # Core inserts, not ORM objects: a spike's thousand rows cost a fraction of a flush.
        rows: list[dict[str, Any]] = []
        for i in new:
            arrival = arrivals[i]
            inbound = arrival.inbound
            row: dict[str, Any] = {
                "id": new_id("msg"),
                "workspace_id": arrival.workspace_id,
                "contact_id": contact_ids[arrival.contact_key],
                "direction": "in",
                "channel": inbound.channel,
                "channel_message_id": inbound.message_id,
                "text": inbound.text,
                "sent_at": inbound.sent_at,
                "source": inbound.source,
                "status": "received",
                "created_at": now,
            }
            rows.append(row)
            stored_now[arrival.key] = Received(row["id"], row["contact_id"], duplicate=False)
        # In contact order: each insert moves its contact's last_message_at (a trigger, which
        # locks the contact's row), and two batches locking the same contacts in the same
        # order cannot deadlock.
        rows.sort(key=lambda m: m["contact_id"])
        if rows:
            # Contacts and messages: the unique keys speak now.
            await session.execute(insert(models.Message), rows)
        routes = {arrivals[i].key: arrivals[i].inbound.reply_route for i in new}
        callbacks = [
            callback_values(
                row["workspace_id"],
                row["id"],
                row["channel"],
                row["channel_message_id"],
                now,
                routes.get(key),
            )
            for row in rows
            if (key := (row["workspace_id"], row["channel"], row["channel_message_id"]))
            in wants_callback
        ]
        if callbacks:
            await session.execute(insert(models.OutboxCallback), callbacks)
        leased: set[str] = set()
        if leases is not None and rows:
            leased = await leases.take_in(session, {row["contact_id"] for row in rows})
        charged = None
        if limits is not None:
            # Last, after the inserts met the unique keys: a repeat is never charged, and the
            # buckets stay locked only for the commit.
            charges = [
                (arrivals[i].workspace_id, arrivals[i].inbound.contact.id, i)
                for i in new
                if arrivals[i].charge
            ]
            arrived = {i: arrivals[i].arrived_by(now) for i in new if arrivals[i].arrived}
            charged, refused = await limits.charge_many(session, charges, now, arrived)
            if refused:
                raise _Refused(refused)
    if limits is not None and charged is not None:
        limits.remember(charged)  # committed: what it learnt of the buckets holds
    for row in rows:  # committed: the messages are stored
        metrics.MESSAGES_RECEIVED.labels(metrics.bounded(row["channel"], CHANNELS)).inc()
    for i in todo:
        if i not in done:
            received = stored_now[arrivals[i].key]
            if originals.get(arrivals[i].key) == i:
                if received.contact_row_id in leased:
                    assert leases is not None
                    leases.hold(received.contact_row_id)
                    received = Received(
                        received.message_row_id, received.contact_row_id, False, leased=True
                    )
                done[i] = received
            else:
                done[i] = Received(received.message_row_id, received.contact_row_id, True)
    return done


async def _stored_messages(
    session: AsyncSession, keys: set[tuple[str, str, str]]
) -> dict[tuple[str, str, str], models.Message]:
    message = models.Message
    rows = await session.scalars(
        select(message).where(
            message.workspace_id.in_({w for w, _, _ in keys}),
            message.channel.in_({c for _, c, _ in keys}),
            message.channel_message_id.in_({m for _, _, m in keys}),
        )
    )
    found = {(r.workspace_id, r.channel, r.channel_message_id or ""): r for r in rows}
    return {key: row for key, row in found.items() if key in keys}


async def _stored_contacts(
    session: AsyncSession, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], models.Contact]:
    contact = models.Contact
    rows = await session.scalars(
        select(contact).where(
            contact.workspace_id.in_({w for w, _ in keys}),
            contact.external_id.in_({e for _, e in keys}),
        )
    )
    found = {(r.workspace_id, r.external_id): r for r in rows}
    return {key: row for key, row in found.items() if key in keys}


async def _contacts_for(
    session: AsyncSession,
    arrivals: Sequence[Arrival],
    new: list[int],
    contacts: dict[tuple[str, str], models.Contact],
    entry_stages: dict[str, str | None],
    now: datetime,
) -> dict[tuple[str, str], str]:
    """The contact row of every new message: created on first contact, its profile refreshed
    from the channel's latest otherwise."""
    ids: dict[tuple[str, str], str] = {}
    latest: dict[tuple[str, str], InboundMessage] = {}
    for i in new:
        latest[arrivals[i].contact_key] = arrivals[i].inbound
    created: list[dict[str, Any]] = []
    firsts: list[tuple[str, str, str, str, str]] = []
    for key, inbound in latest.items():
        contact = contacts.get(key)
        if contact is not None:
            ids[key] = contact.id
            await _refresh_profile(session, contact, inbound)
            continue
        stage = entry_stages[key[0]]
        assert stage is not None
        row = _new_contact(key[0], inbound, stage, now)
        created.append(row)
        ids[key] = row["id"]
        # The contact is created in its entry stage: its history says so.
        firsts.append(
            (
                key[0],
                row["id"],
                stage,
                f"first message on {inbound.channel}",
                inbound.text[:500],
            )
        )
    if created:
        await session.execute(insert(models.Contact), created)  # before their stage changes
        await add_first_stages(session, firsts, now)
    return ids


def _new_contact(
    workspace_id: str, inbound: InboundMessage, entry_stage: str, now: datetime
) -> dict[str, Any]:
    """The columns of a contact created by its first message (a Core insert)."""
    given = inbound.contact
    return {
        "id": new_id("ct"),
        "workspace_id": workspace_id,
        "external_id": given.id,
        "name": given.name,
        "phone": given.phone,
        "email": given.email,
        "search_text": contact_search_text(given.name, given.phone, given.email),
        "locale": given.locale,
        "lifecycle_stage": entry_stage,
        "lost": False,
        "owner": "ai",
        "fields": {},
        "created_at": now,
        "updated_at": now,
    }


async def _refresh_profile(
    session: AsyncSession, contact: models.Contact, inbound: InboundMessage
) -> None:
    """The channel's profile may have changed: keep what it now says, never erase."""
    given = inbound.contact
    wanted = {
        "name": given.name or contact.name,
        "phone": given.phone or contact.phone,
        "email": given.email or contact.email,
        "locale": given.locale or contact.locale,
    }
    if any(getattr(contact, key) != value for key, value in wanted.items()):
        searched = contact_search_text(wanted["name"], wanted["phone"], wanted["email"])
        await session.execute(
            update(models.Contact)
            .where(models.Contact.id == contact.id)
            .values(**wanted, search_text=searched)
        )


async def _entry_stage(session: AsyncSession, workspace_id: str) -> str | None:
    """The first active stage (None: no such workspace)."""
    name = await session.scalar(
        select(models.LifecycleStage.name)
        .where(
            models.LifecycleStage.workspace_id == workspace_id,
            models.LifecycleStage.lost.is_(False),
        )
        .order_by(models.LifecycleStage.position)
        .limit(1)
    )
    return name


async def unanswered(session: AsyncSession, contact_row_id: str) -> list[models.Message]:
    """The contact's stored, not yet answered messages, in the order the customer sent them."""
    rows = await session.scalars(
        select(models.Message)
        .where(
            models.Message.contact_id == contact_row_id,
            models.Message.direction == "in",
            models.Message.status == "received",
        )
        .order_by(models.Message.sent_at, models.Message.created_at, models.Message.id)
    )
    return list(rows.all())


async def count_unanswered(
    sessions: async_sessionmaker[AsyncSession], contact_row_id: str
) -> tuple[int, datetime | None]:
    """How many messages wait, and when the newest of them was sent."""
    async with sessions() as session:
        count, newest = (
            await session.execute(
                select(func.count(), func.max(models.Message.sent_at)).where(
                    models.Message.contact_id == contact_row_id,
                    models.Message.direction == "in",
                    models.Message.status == "received",
                )
            )
        ).one()
    return int(count or 0), stored_datetime(newest)


async def last_answered_sent_at(session: AsyncSession, contact_row_id: str) -> datetime | None:
    """When the newest message already answered was sent: older arrivals are late."""
    value = await session.scalar(
        select(func.max(models.Message.sent_at)).where(
            models.Message.contact_id == contact_row_id,
            models.Message.direction == "in",
            models.Message.status == "processed",
        )
    )
    return stored_datetime(value)


async def stored_response(
    sessions: async_sessionmaker[AsyncSession], message_row_id: str, wait_seconds: float = 60.0
) -> dict[str, Any] | None:
    """The response recorded for a message, waiting while another worker is still on it."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        async with sessions() as session:
            row = await session.get(models.Message, message_row_id)
            if row is not None and row.response is not None:
                return row.response
        if asyncio.get_running_loop().time() >= deadline:
            return None
        await asyncio.sleep(0.05)


def contact_state(row: models.Contact) -> ContactState:
    return ContactState(
        external_id=row.external_id,
        name=row.name,
        lifecycle_stage=row.lifecycle_stage,
        lost=row.lost,
        lost_reason=row.lost_reason,
        owner=row.owner,
        assigned_to=row.assigned_to,
        fields=dict(row.fields or {}),
        pending_field=row.pending_field,
        language=row.language,
        phone=row.phone,
        email=row.email,
    )


def contact_summary(state: ContactState) -> ContactSummary:
    return ContactSummary(
        id=state.external_id,
        lifecycle_stage=state.lifecycle_stage,
        lost=state.lost,
        lost_reason=state.lost_reason,
        assigned_to=state.assigned_to,
        owner="human" if state.owner == "human" else "ai",
        fields=state.fields,
    )


async def history(
    session: AsyncSession, contact_row_id: str, before_message_id: str, limit: int
) -> list[models.Message]:
    """The contact's latest messages before this one, oldest first."""
    if limit == 0:
        return []
    rows = (
        await session.scalars(
            select(models.Message)
            .where(
                models.Message.contact_id == contact_row_id,
                models.Message.id != before_message_id,
                (models.Message.direction == "out") | (models.Message.status == "processed"),
            )
            .order_by(models.Message.created_at.desc(), models.Message.direction.desc())
            .limit(limit)
        )
    ).all()
    return list(reversed(rows))


async def is_waiting(sessions: async_sessionmaker[AsyncSession], message_row_id: str) -> bool:
    """Whether the message is still stored unanswered."""
    async with sessions() as session:
        status = await session.scalar(
            select(models.Message.status).where(models.Message.id == message_row_id)
        )
    return status == "received"


async def recent_messages(
    session: AsyncSession, contact_row_id: str, limit: int
) -> list[models.Message]:
    """The contact's latest ``limit`` messages, both directions, oldest first."""
    rows = await session.scalars(
        select(models.Message)
        .where(models.Message.contact_id == contact_row_id)
        .order_by(models.Message.created_at.desc(), models.Message.direction.desc())
        .limit(limit)
    )
    return list(reversed(rows.all()))


async def waiting_messages(session: AsyncSession) -> int:
    """Customer messages stored and not answered yet, all workspaces (a metrics scrape reads
    it: the (status, contact) index answers it without reading the rows)."""
    count = await session.scalar(
        select(func.count()).select_from(models.Message).where(models.Message.status == "received")
    )
    return int(count or 0)

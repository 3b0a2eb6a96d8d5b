"""The contact list: filters, text search and cursor pages that hold still while messages arrive.

Contacts are listed by the time of their last message, newest first, ties by row id: a keyset
on ``(contacts.last_message_at, contacts.id)`` (kept by a trigger, migration 0014), so a page
is an index range scan whatever the page number.

A plain keyset on a key that moves would lose contacts: one not listed yet that gets a message
jumps above the cursor and is never reached. So the first page fixes a moment (``as_of``, kept
in the cursor) and every page orders contacts by their last message *as of that moment*. A
contact whose last message is newer than ``as_of`` (it moved since the first page) is placed
where it was then: its message at or before ``as_of`` is looked up (index on ``messages
(contact_id, created_at)``), for those few contacts only. Contacts created after ``as_of`` are
left for the next first page. Every contact is therefore listed exactly once, in one order;
what each item shows (stage, last message...) is read when its page is. Contacts without any
message come last, by id.

The first channel and campaign come from ``contact_sources`` (reports/sources.py), brought up
to date first as the reports do. Then one statement per part of a page (contacts that stayed
put, contacts that moved, contacts without messages), one for the page's last messages and one
for its open handoffs: no query per contact.

The cursor is base64 of JSON with a checksum keyed by the workspace: an altered cursor, or one
from another workspace, is refused with a 422 naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.clock import stored_datetime
from agent_service.core.errors import Invalid
from agent_service.core.search import SEPARATOR, like_pattern
from agent_service.db import models
from agent_service.reports.sources import sync_sources
from agent_service.schemas.contacts import ContactListItem, ContactPage

LAST_TEXT_CHARS = 200
_c, _m, _s, _h = models.Contact, models.Message, models.ContactSource, models.Handoff


class InvalidListQuery(Invalid):
    """A filter or a cursor the list cannot use; the message starts with the parameter."""


@dataclass(frozen=True)
class ContactFilters:
    """Each one given narrows the list (they combine with AND)."""

    stage: str | None = None
    lost: bool | None = None
    owner: Literal["ai", "human"] | None = None
    team: str | None = None  # a team's id or key
    channel: str | None = None
    campaign: str | None = None
    q: str | None = None


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: after ``(at, contact_id)`` among contacts with messages
    (``phase`` ``messages``), or after ``contact_id`` among those without (``none``)."""

    as_of: datetime
    phase: Literal["messages", "none"]
    at: datetime | None
    contact_id: str | None


def encode_cursor(workspace_id: str, cursor: Cursor) -> str:
    payload = json.dumps(
        {
            "t": cursor.as_of.isoformat(),
            "p": cursor.phase,
            "k": cursor.at.isoformat() if cursor.at else None,
            "i": cursor.contact_id,
        },
        separators=(",", ":"),
    ).encode()
    signed = payload + b"." + _checksum(workspace_id, payload).encode()
    return base64.urlsafe_b64encode(signed).decode().rstrip("=")


def decode_cursor(workspace_id: str, text: str) -> Cursor:
    """The cursor ``encode_cursor`` gave for this workspace; ``InvalidListQuery`` otherwise."""
    try:
        signed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        payload, _, check = signed.rpartition(b".")
        if check.decode() != _checksum(workspace_id, payload):
            raise ValueError("checksum")
        data = json.loads(payload)
        as_of = _aware(data["t"])
        phase = data["p"]
        at = _aware(data["k"]) if data["k"] is not None else None
        contact_id = data["i"]
        if phase not in ("messages", "none") or (
            contact_id is not None and not isinstance(contact_id, str)
        ):
            raise ValueError("shape")
        if phase == "messages" and (at is None or contact_id is None):
            raise ValueError("shape")
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidListQuery(
            "cursor: not a cursor this list gave (altered, truncated or from another "
            "workspace); start again without it"
        ) from exc
    return Cursor(as_of, phase, at, contact_id)


def _checksum(workspace_id: str, payload: bytes) -> str:
    return hashlib.blake2b(payload, key=workspace_id.encode()[:64], digest_size=8).hexdigest()


def _aware(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("not a time")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("naive time")
    return parsed


async def list_contacts(
    session: AsyncSession,
    workspace_id: str,
    filters: ContactFilters,
    limit: int,
    cursor: str | None,
    now: datetime,
) -> ContactPage:
    """One page of the workspace's contacts and the cursor of the next one."""
    position = (
        decode_cursor(workspace_id, cursor)
        if cursor is not None
        else Cursor(now, "messages", None, None)
    )
    await sources_up_to_date(session, workspace_id)
    conditions = await _conditions(session, workspace_id, filters)
    as_of = position.as_of
    found: list[tuple[Any, datetime | None]] = []  # (row, its key as of the first page)
    phase = position.phase
    if phase == "messages":
        found = await _with_messages(session, conditions, position, limit + 1)
        if len(found) <= limit:
            phase, position = "none", Cursor(as_of, "none", None, None)
    if phase == "none":
        rest = await _without_messages(session, conditions, position, limit + 1 - len(found))
        found += [(row, None) for row in rest]
    page, more = found[:limit], len(found) > limit
    next_cursor = None
    if more and page:
        last, key = page[-1]
        after = Cursor(as_of, "messages" if key is not None else "none", key, last.id)
        next_cursor = encode_cursor(workspace_id, after)
    items = await summaries(session, [row for row, _ in page])
    return ContactPage(items=items, next_cursor=next_cursor)


async def sources_up_to_date(session: AsyncSession, workspace_id: str) -> None:
    """Record the first channel and campaign of contacts that have none yet (reports/sources:
    filled lazily, on first use; two index counts when nothing is missing)."""
    try:
        await sync_sources(session, workspace_id)
        await session.commit()
    except IntegrityError:
        await session.rollback()  # another request recorded the same contacts first


def _columns() -> Select[*tuple[Any, ...]]:
    return select(
        _c.id,
        _c.external_id,
        _c.name,
        _c.phone,
        _c.email,
        _c.language,
        _c.lifecycle_stage,
        _c.lost,
        _c.lost_reason,
        _c.owner,
        _c.created_at,
        _c.last_message_at,
        _s.channel.label("first_channel"),
        _s.campaign.label("first_campaign"),
    ).outerjoin(_s, _s.contact_id == _c.id)


async def _conditions(
    session: AsyncSession, workspace_id: str, filters: ContactFilters
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [_c.workspace_id == workspace_id]
    if filters.stage is not None:
        known = await session.scalar(
            select(models.LifecycleStage.id).filter_by(
                workspace_id=workspace_id, name=filters.stage
            )
        )
        if known is None:
            raise InvalidListQuery(f"stage: no stage '{filters.stage}' in this workspace")
        conditions.append(_c.lifecycle_stage == filters.stage)
    if filters.lost is not None:
        conditions.append(_c.lost == filters.lost)
    if filters.owner is not None:
        # "ai" is the default owner: anything not "human" is the agent's.
        human = _c.owner == "human"
        conditions.append(human if filters.owner == "human" else ~human)
    if filters.team is not None:
        key = await session.scalar(
            select(models.Team.key).where(
                models.Team.workspace_id == workspace_id,
                or_(models.Team.id == filters.team, models.Team.key == filters.team),
            )
        )
        if key is None:
            raise InvalidListQuery(
                f"team: no team '{filters.team}' in this workspace (give its id or key)"
            )
        conditions.append(
            exists().where(_h.contact_id == _c.id, _h.released_at.is_(None), _h.team == key)
        )
    if filters.channel is not None:
        conditions.append(_s.channel == filters.channel)
    if filters.campaign is not None:
        conditions.append(_s.campaign == filters.campaign)
    if filters.q is not None:
        if SEPARATOR in filters.q:
            raise InvalidListQuery("q: must not contain control characters")
        conditions.append(_c.search_text.like(like_pattern(filters.q), escape="\\"))
    return conditions


async def _with_messages(
    session: AsyncSession, conditions: list[ColumnElement[bool]], after: Cursor, count: int
) -> list[tuple[Any, datetime | None]]:
    """Contacts with a message at or before ``as_of``, after the cursor, by that message."""
    as_of, last = after.as_of, _c.last_message_at
    # Contacts whose last message is still the one they had at as_of: straight off the index.
    stayed = _columns().add_columns(last.label("list_key"))
    stayed = stayed.where(*conditions, last.is_not(None), last <= as_of)
    if after.at is not None and after.contact_id is not None:
        stayed = stayed.where(
            last <= after.at, or_(last < after.at, and_(last == after.at, _c.id < after.contact_id))
        )
    stayed = stayed.order_by(last.desc(), _c.id.desc()).limit(count)
    # Contacts that got a message since: placed by their last message at or before as_of.
    then = (
        select(func.max(_m.created_at))
        .where(_m.contact_id == _c.id, _m.created_at <= as_of)
        .scalar_subquery()
    )
    moved_rows = _columns().add_columns(then.label("list_key")).where(*conditions, last > as_of)
    moved = moved_rows.subquery()
    key = moved.c.list_key
    chosen = select(moved).where(key.is_not(None))
    if after.at is not None and after.contact_id is not None:
        chosen = chosen.where(
            or_(key < after.at, and_(key == after.at, moved.c.id < after.contact_id))
        )
    chosen = chosen.order_by(key.desc(), moved.c.id.desc()).limit(count)
    rows = [
        (row, stored_datetime(row.list_key))
        for statement in (stayed, chosen)
        for row in (await session.execute(statement)).all()
    ]
    rows.sort(key=lambda found: (found[1], found[0].id), reverse=True)
    return rows[:count]


async def _without_messages(
    session: AsyncSession, conditions: list[ColumnElement[bool]], after: Cursor, count: int
) -> list[Any]:
    """Contacts that existed at ``as_of`` without a message yet, by id."""
    if count <= 0:
        return []
    as_of = after.as_of
    none_then = ~exists().where(_m.contact_id == _c.id, _m.created_at <= as_of)
    statement = _columns().where(
        *conditions,
        _c.created_at <= as_of,
        or_(_c.last_message_at.is_(None), and_(_c.last_message_at > as_of, none_then)),
    )
    if after.contact_id is not None:
        statement = statement.where(_c.id < after.contact_id)
    statement = statement.order_by(_c.id.desc()).limit(count)
    return list((await session.execute(statement)).all())


async def contact_row(session: AsyncSession, workspace_id: str, external_id: str) -> Any | None:
    """The list's row of one contact (for the conversation's header)."""
    statement = _columns().where(_c.workspace_id == workspace_id, _c.external_id == external_id)
    return (await session.execute(statement)).first()


async def summaries(session: AsyncSession, rows: list[Any]) -> list[ContactListItem]:
    """The list items of these rows: their last messages and open handoffs in one query each."""
    ids = [row.id for row in rows]
    last_text: dict[str, tuple[tuple[bool, str], str]] = {}
    teams: dict[str, tuple[datetime, str]] = {}
    if ids:
        newest = await session.execute(
            select(_m.contact_id, _m.direction, _m.id, _m.text)
            .join(_c, and_(_c.id == _m.contact_id, _m.created_at == _c.last_message_at))
            .where(_m.contact_id.in_(ids))
        )
        for contact_id, direction, message_id, text in newest.all():
            # Stored in the same instant: a reply follows the message it answers.
            rank = (direction == "out", message_id)
            if contact_id not in last_text or rank > last_text[contact_id][0]:
                last_text[contact_id] = (rank, text)
        open_handoffs = await session.execute(
            select(_h.contact_id, _h.created_at, _h.team).where(
                _h.contact_id.in_(ids), _h.released_at.is_(None)
            )
        )
        for contact_id, created_at, team in open_handoffs.all():
            at = stored_datetime(created_at)
            assert at is not None
            if contact_id not in teams or at > teams[contact_id][0]:
                teams[contact_id] = (at, team)
    return [
        ContactListItem(
            id=row.external_id,
            name=row.name,
            phone=row.phone,
            email=row.email,
            language=row.language,
            lifecycle_stage=row.lifecycle_stage,
            lost=bool(row.lost),
            lost_reason=row.lost_reason,
            owner="human" if row.owner == "human" else "ai",
            team=teams[row.id][1] if row.id in teams else None,
            channel=row.first_channel,
            campaign=row.first_campaign,
            last_message_at=stored_datetime(row.last_message_at),
            last_message_text=(
                last_text[row.id][1][:LAST_TEXT_CHARS] if row.id in last_text else None
            ),
            created_at=row.created_at,
        )
        for row in rows
    ]

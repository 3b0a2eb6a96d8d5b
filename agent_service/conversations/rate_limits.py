"""Requests per second per workspace and per contact, shared by every replica: 429 with Retry-After.

Each limit is a token bucket (``*_burst`` tokens, refilled at ``*_rate_per_second``) kept as a
row of ``rate_buckets``, so every process charges the same bucket. The charge is one atomic
upsert of both rows, run as the last statement of the transaction that stores the message
(conversations/inbox.py):

- **No extra round trip and no extra transaction.** The refill and the take are arithmetic in
  the statement's ``SET ... WHERE refilled >= 1``; the buckets that had room come back with
  ``RETURNING``. Storing a message was a few statements in one transaction; it gains one more.
- **Correct under concurrency.** On PostgreSQL the upsert locks the bucket rows and a racing
  transaction re-evaluates against the committed values, so two processes cannot both take
  the last token; SQLite has one writer at a time. Both rows are locked in one order
  (workspace, then contact) by the statement that ends the transaction, so it never waits while
  holding them and cannot deadlock.
- **All or nothing.** A refused message rolls back with everything stored with it (message,
  new contact, callback row), and a token taken from the workspace for a contact that was
  refused goes back with it: nothing is stored, nothing is charged.
- **A repeat delivery is never refused.** The charge runs after the message's insert, so a
  repeat meets the unique key (or is recognised by the read before the write) and is answered
  from the record; a repeat racing its original on PostgreSQL waits on the key and then finds
  it stored.

Why not a sliding-window count over the stored messages (measured with
``bench/rate_limit_cost.py``): the workspace's count reads as many index entries as messages in
the window (thousands in a campaign spike, for every insert) and still needs a lock on the
workspace's row to be exact across processes, taken before the inserts or it deadlocks with
their foreign-key locks. On the 2-core machine (under a load average of 8-10) the bucket charge
cost 1.1-1.3 ms of CPU per message on SQLite and PostgreSQL, the window's two counts 4-6 ms
with 1,000-2,000 messages in the window. The statement is executed with the rows as
parameters, not ``.values([...])``, which SQLAlchemy cannot cache and recompiled every time
(3 ms more). What a bucket row costs: on PostgreSQL the workspace's row is held from the charge
to the commit, so one workspace's stores commit one after the other (a batched insert will
charge its whole batch at once).

The process keeps what it last learnt of each bucket (``_known``, from ``RETURNING`` or from a
refusal) as an upper bound: other replicas only ever take tokens, so a bucket this process saw
empty is empty. That answers ``has_room`` (whether to start the query embedding early) without
the database, and refuses a flood from one contact before its write transaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, case, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.core.config import Settings
from agent_service.db import models

WORKSPACE, CONTACT = "workspace", "contact"
_KNOWN_MAX = 100_000  # buckets remembered per process; the oldest are forgotten first


class RateLimited(Exception):
    """Too many requests; ``retry_after`` is whole seconds until a token is free."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(f"too many requests for this {scope}; retry after {retry_after}s")
        self.scope, self.retry_after = scope, retry_after


@dataclass(frozen=True)
class Bucket:
    """A bucket's state as last seen: ``tokens`` at ``updated`` (epoch seconds)."""

    tokens: float
    updated: float
    rate: float
    capacity: int

    def tokens_at(self, now: float) -> float:
        return min(float(self.capacity), self.tokens + max(0.0, now - self.updated) * self.rate)

    def wait_seconds(self, now: float) -> float:
        """Seconds until one token is available (0 if one is)."""
        tokens = self.tokens_at(now)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate


Key = tuple[str, str, str]  # workspace id, scope, subject


@dataclass(frozen=True)
class Charged:
    """What a charge learnt; ``RateLimits.remember`` it once its transaction committed."""

    buckets: dict[Key, Bucket]


@dataclass
class RateLimits:
    """The shared buckets' settings, and what this process last saw of them."""

    settings: Settings
    clock: Callable[[], datetime]
    _known: dict[Key, Bucket] = field(default_factory=dict)

    def _limits(self, workspace_id: str, contact_id: str) -> list[tuple[Key, float, int]]:
        s = self.settings
        return [
            ((workspace_id, WORKSPACE, ""), s.workspace_rate_per_second, s.workspace_burst),
            ((workspace_id, CONTACT, contact_id), s.contact_rate_per_second, s.contact_burst),
        ]

    def _known_wait(self, key: Key, now: float) -> float:
        bucket = self._known.get(key)
        return 0.0 if bucket is None else bucket.wait_seconds(now)

    def has_room(self, workspace_id: str, contact_id: str) -> bool:
        """Whether a charge may pass now, by what this process knows; takes nothing.

        An upper bound: False means the shared bucket is empty too; True may still be refused.
        """
        now = self.clock().timestamp()
        return all(
            self._known_wait(key, now) == 0 for key, _, _ in self._limits(workspace_id, contact_id)
        )

    def refuse_if_known_empty(self, workspace_id: str, contact_id: str, now: datetime) -> None:
        """Raise RateLimited when a bucket this process saw is still empty (no database)."""
        at = now.timestamp()
        for key, _, _ in self._limits(workspace_id, contact_id):
            wait = self._known_wait(key, at)
            if wait > 0:
                raise RateLimited(key[1], _whole_seconds(wait))

    async def charge_many(
        self, session: AsyncSession, charges: Sequence[tuple[str, str, int]], now: datetime
    ) -> tuple[Charged, dict[int, RateLimited]]:
        """Charge a batch of deliveries, ``(workspace id, contact id, delivery)`` in arrival
        order, in the caller's transaction: each bucket takes as many tokens as it has
        deliveries, in one statement for all of them.

        Returns what was taken, and the deliveries refused (the latest of a bucket that had
        fewer tokens than deliveries). When any is refused the caller's transaction must roll
        back and store the others again without them: the statement took nothing from a
        bucket short of tokens, but the other buckets' tokens were taken.
        """
        at = now.timestamp()
        wanted: dict[Key, list[int]] = {}
        settings: dict[Key, tuple[float, int]] = {}
        for workspace_id, contact_id, delivery in charges:
            for key, rate, capacity in self._limits(workspace_id, contact_id):
                wanted.setdefault(key, []).append(delivery)
                settings[key] = (rate, capacity)
        refused: dict[int, RateLimited] = {}
        for key, deliveries in wanted.items():  # more than a full bucket can never pass
            rate, capacity = settings[key]
            for delivery in deliveries[capacity:]:
                refused.setdefault(delivery, RateLimited(key[1], _whole_seconds(1 / rate)))
        if refused or not wanted:
            return Charged({}), refused
        # One order for every writer (workspaces, then contacts), so that two transactions
        # locking bucket rows never wait for each other crosswise.
        order = sorted(wanted, key=lambda key: (key[1] != WORKSPACE, key))
        rows = [
            {
                "workspace_id": key[0],
                "scope": key[1],
                "subject": key[2],
                "tokens": float(settings[key][1] - len(wanted[key])),
                "updated": at,
                "rate": settings[key][0],
                "capacity": settings[key][1],
            }
            for key in order
        ]
        dialect = session.get_bind().dialect.name
        result = await session.execute(_take(dialect), rows)
        taken = {(row.workspace_id, row.scope, row.subject): _bucket(row) for row in result}
        short = [key for key in order if key not in taken]
        if not short:
            return Charged(taken), refused
        seen = await _read(session, short)
        for key in short:
            bucket = seen.get(key)
            deliveries = wanted[key]
            if bucket is None:  # gone meanwhile: refuse the latest, the rest goes again
                refused.setdefault(deliveries[-1], RateLimited(key[1], 1))
                continue
            self._remember(key, bucket)
            room = min(len(deliveries) - 1, max(0, math.floor(bucket.tokens_at(at))))
            left = Bucket(bucket.tokens_at(at) - room, at, bucket.rate, bucket.capacity)
            for delivery in deliveries[room:]:
                refused.setdefault(
                    delivery, RateLimited(key[1], _whole_seconds(left.wait_seconds(at)))
                )
        return Charged({}), refused

    def remember(self, charged: Charged) -> None:
        for key, bucket in charged.buckets.items():
            self._remember(key, bucket)

    def _remember(self, key: Key, bucket: Bucket) -> None:
        self._known.pop(key, None)  # re-inserted last: the dict stays oldest first
        self._known[key] = bucket
        while len(self._known) > _KNOWN_MAX:
            del self._known[next(iter(self._known))]


def _whole_seconds(wait: float) -> int:
    return max(1, math.ceil(wait))


def _bucket(row: Any) -> Bucket:
    return Bucket(float(row.tokens), float(row.updated), float(row.rate), int(row.capacity))


@cache
def _take(dialect: str) -> Any:
    """INSERT the buckets full minus the tokens wanted, or refill and take them where they are
    there.

    Built once per dialect; the rows are bound per call. ``excluded`` is the row offered:
    its ``updated`` is now and its ``rate``/``capacity`` are the current settings.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, models.RateBucket.__table__)
    offered = insert(table)
    new, old = offered.excluded, table.c
    cost = new.capacity - new.tokens  # the row offered is a full bucket less the tokens wanted
    elapsed = case((new.updated > old.updated, new.updated - old.updated), else_=0.0)
    filled = old.tokens + elapsed * new.rate
    refilled = case((filled > new.capacity, new.capacity), else_=filled)
    return offered.on_conflict_do_update(
        index_elements=["workspace_id", "scope", "subject"],
        set_={
            "tokens": refilled - cost,
            "updated": case((new.updated > old.updated, new.updated), else_=old.updated),
            "rate": new.rate,
            "capacity": new.capacity,
        },
        where=refilled >= cost,
    ).returning(
        old.workspace_id, old.scope, old.subject, old.tokens, old.updated, old.rate, old.capacity
    )


async def _read(session: AsyncSession, keys: Sequence[Key]) -> dict[Key, Bucket]:
    table = models.RateBucket
    rows = await session.execute(
        select(table).where(
            or_(
                *(
                    and_(table.workspace_id == w, table.scope == s, table.subject == c)
                    for w, s, c in keys
                )
            )
        )
    )
    return {(r.workspace_id, r.scope, r.subject): _bucket(r) for r in rows.scalars()}

"""Requests per second per workspace and per contact, shared by every replica: 429 with Retry-After.

Each limit is a token bucket (``*_burst`` tokens, refilled at ``*_rate_per_second``) kept as a
row of ``rate_buckets``, so every process charges the same bucket. The charge is one atomic
upsert of all the batch's bucket rows (after an insert of the buckets not there yet), run last
in the transaction that stores the messages (conversations/inbox.py):

- **Each delivery as of its arrival.** A batch's deliveries are charged as the bucket would
  have taken them one by one when they arrived, not all at the moment of the store: when a
  slow store or a busy event loop made deliveries queue (conversations/intake.py), charging
  them at the store turned a legitimate stream under the rate into 429s (the PostgreSQL
  sustained benchmark's 776). In the time form of the bucket (GCRA: a "theoretical arrival
  time" per bucket, kept in the row's token form) the bucket after a batch depends only on
  the arrival times and the bucket before, and the capacity is checked as of the latest time
  the bucket has seen (another replica may store later arrivals first), so one statement
  still charges the batch (``_Plan``).
- **No extra transaction.** The refill and the take are arithmetic in the statement's
  ``SET ... WHERE``; the buckets that had room come back with ``RETURNING``. Storing a batch
  gains two statements (the insert of new buckets and the charge), not two per message.
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, and_, case, literal_column, or_, select
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
        self,
        session: AsyncSession,
        charges: Sequence[tuple[str, str, int]],
        now: datetime,
        arrived: Mapping[int, datetime] | None = None,
    ) -> tuple[Charged, dict[int, RateLimited]]:
        """Charge a batch of deliveries, ``(workspace id, contact id, delivery)`` in arrival
        order, in the caller's transaction: each delivery at the moment it ``arrived`` (default
        ``now``), each bucket in one statement for all its deliveries.

        Returns what was taken, and the deliveries refused (those a bucket taking the
        deliveries one by one, as they arrived, would have refused). When any is refused the
        caller's transaction must roll back and store the others again without them: the
        statement took nothing from a bucket short of tokens, but the other buckets' tokens
        were taken.
        """
        wanted: dict[Key, list[tuple[int, float]]] = {}
        for workspace_id, contact_id, delivery in charges:
            at = (arrived or {}).get(delivery, now).timestamp()
            for key in self._keys(workspace_id, contact_id):
                wanted.setdefault(key, []).append((delivery, at))
        refused: dict[int, RateLimited] = {}
        plans: dict[Key, _Plan] = {}
        for key, deliveries in wanted.items():  # what a full bucket could never let through
            plans[key] = _Plan.of(key, deliveries, *self._setting(key[1]), now, refused)
        if refused or not wanted:
            return Charged({}), refused
        # One order for every writer (workspaces, then contacts), so that two transactions
        # locking bucket rows never wait for each other crosswise.
        order = sorted(wanted, key=lambda key: (key[1] != WORKSPACE, key))
        dialect = session.get_bind().dialect.name
        await session.execute(
            _ensure(dialect),
            [_full_row(key, *self._setting(key[1])) for key in order],
        )
        result = await session.execute(
            _take(dialect, *self._setting(WORKSPACE), *self._setting(CONTACT)),
            [plans[key].row(key) for key in order],
        )
        taken = {(row.workspace_id, row.scope, row.subject): _bucket(row) for row in result}
        short = [key for key in order if key not in taken]
        if not short:
            return Charged(taken), refused
        seen = await _read(session, short)
        for key in short:
            bucket = seen.get(key)
            plan = plans[key]
            if bucket is None:  # gone meanwhile: refuse the latest, the rest goes again
                refused.setdefault(plan.deliveries[-1][0], RateLimited(key[1], 1))
                continue
            self._remember(key, bucket)
            plan.refuse_past(bucket, now, refused)
        return Charged({}), refused

    def _keys(self, workspace_id: str, contact_id: str) -> list[Key]:
        return [(workspace_id, WORKSPACE, ""), (workspace_id, CONTACT, contact_id)]

    def _setting(self, scope: str) -> tuple[float, int]:
        s = self.settings
        if scope == WORKSPACE:
            return s.workspace_rate_per_second, s.workspace_burst
        return s.contact_rate_per_second, s.contact_burst

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


_SLACK = 1e-6  # seconds: float rounding of epoch times must not refuse an exact fit


@dataclass
class _Plan:
    """One bucket's deliveries in the bucket's time form (GCRA, the token bucket's equivalent):
    a bucket is its "theoretical arrival time" ``tat``; a delivery that arrived at ``t`` moves
    it to ``max(tat, t) + 1/rate``; the bucket is over its capacity at time ``u`` when
    ``tat - u > capacity/rate``.

    The deliveries are added as of their arrival, so that a backlog of the service's own
    making (stored late and close together) is credited the refill of the time it waited. The
    bucket's state after them does not depend on the order they are added in; so that a
    replica storing late deliveries after another replica stored later ones is not refused
    for it, the capacity is checked as of the latest time the bucket has seen (its stored
    ``updated`` or their latest arrival), not as of each delivery's arrival. Within one batch
    the deliveries are also checked one by one as they arrived (``of``), so a flood inside a
    batch is refused as exactly as before. What the statement needs from the plan: ``floor``
    (the bucket's time after them had it been full), their number and their latest arrival.
    """

    deliveries: list[tuple[int, float]]  # (delivery, arrived), each of which could pass
    scope: str
    rate: float
    capacity: int
    floor: float

    @classmethod
    def of(
        cls,
        key: Key,
        deliveries: list[tuple[int, float]],
        rate: float,
        capacity: int,
        now: datetime,
        refused: dict[int, RateLimited],
    ) -> _Plan:
        """The plan of the deliveries a full bucket lets through; the others are refused
        (with the wait from ``now``)."""
        step, depth = 1 / rate, capacity / rate
        tat, kept = -math.inf, []
        for delivery, at in sorted(deliveries, key=lambda d: d[1]):
            after = max(tat, at) + step
            if after - at > depth + _SLACK:
                wait = tat + step - depth - now.timestamp()
                refused.setdefault(delivery, RateLimited(key[1], _whole_seconds(wait)))
                continue
            tat = after
            kept.append((delivery, at))
        return cls(kept, key[1], rate, capacity, tat)

    @property
    def latest(self) -> float:
        return self.deliveries[-1][1] if self.deliveries else 0.0

    def row(self, key: Key) -> dict[str, Any]:
        """The parameters of ``_take``: the columns of the row offered carry the plan."""
        return {
            "workspace_id": key[0],
            "scope": key[1],
            "subject": key[2],
            "tokens": self.floor,
            "updated": self.latest,
            "rate": self.rate,
            "capacity": len(self.deliveries),
        }

    def refuse_past(self, bucket: Bucket, now: datetime, refused: dict[int, RateLimited]) -> None:
        """The bucket as stored could not take all of them: refuse those it could not take
        one by one (at least one), each with the wait from ``now``."""
        step, depth = 1 / self.rate, self.capacity / self.rate
        tat = bucket.updated + (self.capacity - bucket.tokens) * step
        seen = bucket.updated
        before = len(refused)
        for delivery, at in self.deliveries:
            after = max(tat, at) + step
            if after - max(seen, at) <= depth + _SLACK:
                tat, seen = after, max(seen, at)
                continue
            wait = tat + step - depth - now.timestamp()
            refused.setdefault(delivery, RateLimited(self.scope, _whole_seconds(wait)))
        if len(refused) == before and self.deliveries:
            refused.setdefault(self.deliveries[-1][0], RateLimited(self.scope, 1))


def _full_row(key: Key, rate: float, capacity: int) -> dict[str, Any]:
    """A bucket that has always been full (``updated`` 0), for ``_ensure``."""
    return {
        "workspace_id": key[0],
        "scope": key[1],
        "subject": key[2],
        "tokens": float(capacity),
        "updated": 0.0,
        "rate": rate,
        "capacity": capacity,
    }


@cache
def _ensure(dialect: str) -> Any:
    """INSERT the buckets that do not exist yet, full; an existing row is left as it is (and
    not locked)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(cast(Table, models.RateBucket.__table__)).on_conflict_do_nothing(
        index_elements=["workspace_id", "scope", "subject"]
    )


@cache
def _take(
    dialect: str,
    workspace_rate: float,
    workspace_capacity: int,
    contact_rate: float,
    contact_capacity: int,
) -> Any:
    """Take a plan's deliveries from each (existing) bucket that stays within its capacity.

    Built once per dialect and settings (they are numbers in the statement); the plans are
    bound per call as the row offered (``_ensure`` made the row exist, so the offer always
    meets it): ``tokens`` is the plan's floor, ``updated`` its latest arrival and ``capacity``
    its number of deliveries. The row keeps the token form (``tokens`` at ``updated``) with
    the current settings.
    """
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, models.RateBucket.__table__)
    offered = insert(table)
    plan, old = offered.excluded, table.c

    def setting(workspace: float, contact: float) -> Any:
        """The number of the bucket's scope, written into the statement."""
        return case(
            (old.scope == WORKSPACE, literal_column(repr(workspace))),
            else_=literal_column(repr(contact)),
        )

    rate = setting(workspace_rate, contact_rate)
    step = setting(1 / workspace_rate, 1 / contact_rate)
    capacity = setting(workspace_capacity, contact_capacity)
    tat0 = old.updated + (capacity - old.tokens) * step
    charged = tat0 + plan.capacity * step
    tat = case((charged > plan.tokens, charged), else_=plan.tokens)
    updated = case((plan.updated > old.updated, plan.updated), else_=old.updated)
    left = capacity - (tat - updated) * rate
    return offered.on_conflict_do_update(
        index_elements=["workspace_id", "scope", "subject"],
        set_={
            "tokens": case((left > capacity, capacity), else_=left),
            "updated": updated,
            "rate": rate,
            "capacity": capacity,
        },
        where=charged <= updated + capacity * step + literal_column(repr(_SLACK)),
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

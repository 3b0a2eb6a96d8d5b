"""Which replica answers a contact now: a lease on the contact row that expires.

Replicas share the database, not memory. A replica about to answer a contact takes the lease
with one conditional UPDATE (free, already its own, or expired), so of several replicas trying
at once exactly one gets it; it renews the leases it holds (one UPDATE for all of them) while
its turns run, and frees a lease when it is done. A replica that dies stops renewing: once its
lease expired, the first survivor whose sweep (workers/recovery.py) sees the contact takes the
lease over and answers what waits, with one model call. The turn's save keeps its own
conditional claim (agent/outcome.py), so even a replica that was only paused past its lease
cannot save a second answer.

A lease must expire only because its replica stopped, never because the replica is busy: under
a spike a thousand turns wait for a slot, a connection or the write gate, and a renewal that
queued behind them let every waiting lease expire, so the other replica adopted those contacts
and both called the model (issue 14: 1,652 model calls for 1,000 messages). So the renewal
runs on connections turns never hold (the front door's pool), goes first through SQLite's
write gate, and skips the rows a turn's save has locked (PostgreSQL) instead of waiting for
them; and a turn starts its model call only on a lease it knows to be its own for a while yet
(``ensure``): one lost to another replica stops the worker, one not renewed lately is
confirmed in the database first.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models
from agent_service.db.write_gate import WriteGate

log = logging.getLogger("agent_service.leases")
_contacts = cast(Table, models.Contact.__table__)


class LeaseLost(Exception):
    """Another replica took over the contact's lease while this one's worker waited: that
    replica answers what waits, and this worker stops before calling the model."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


def new_replica_id() -> str:
    """This process's name in leases: host, pid and a random part (a restart is a new replica)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


@dataclass
class TurnLeases:
    """The leases this process holds, by contact row id (a count: nested holders share one).

    Leases run on the wall clock, never the service's clock (which tests and evals set): they
    measure how long a process has been silent, across processes."""

    replica: str
    seconds: float
    held: dict[str, int] = field(default_factory=dict)
    now: Callable[[], datetime] = wall_clock
    # When each lease this process took or renewed runs out, as it last wrote it: another
    # replica can take the contact only after that.
    until: dict[str, datetime] = field(default_factory=dict)
    # Held leases another replica took over (seen by a renewal): their workers stop.
    lost: set[str] = field(default_factory=set)
    # Expiries written by ``take_in``, in effect once its transaction committed (``hold``).
    _pending: dict[str, datetime] = field(default_factory=dict, repr=False)

    async def take(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        contact_row_id: str,
    ) -> bool:
        """Take (or keep) the contact's lease; False while another replica's lease runs, or
        while a transaction writes the contact (PostgreSQL: its row is locked, typically by
        the lease holder's save, which answers what waited): the caller tries again later
        instead of holding a connection until that transaction ends."""
        now = self.now()
        until = now + timedelta(seconds=self.seconds)
        leased_by, leased_until = _contacts.c.turn_leased_by, _contacts.c.turn_leased_until
        async with gate.hold(), sessions() as session, session.begin():
            before = (
                await session.execute(
                    select(leased_by, leased_until)
                    .where(_contacts.c.id == contact_row_id)
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if before is None:
                return False
            result = await session.execute(
                update(_contacts)
                .where(
                    _contacts.c.id == contact_row_id,
                    or_(
                        leased_by.is_(None),
                        leased_by == self.replica,
                        and_(leased_until.is_not(None), leased_until < now),
                    ),
                )
                .values(turn_leased_by=self.replica, turn_leased_until=until)
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
        self.held[contact_row_id] = self.held.get(contact_row_id, 0) + 1
        self.until[contact_row_id] = until
        self.lost.discard(contact_row_id)
        previous = before[0]
        if previous is not None and previous != self.replica:
            log.warning(
                "adopted a contact whose replica stopped renewing its lease",
                extra={
                    "fields": {
                        "contact_row_id": contact_row_id,
                        "from_replica": previous,
                        "replica": self.replica,
                    }
                },
            )
        return True

    async def take_in(self, session: AsyncSession, contact_row_ids: set[str]) -> set[str]:
        """Inside the caller's write transaction (storing messages): take the leases of these
        contacts that are free, ours or expired; returns the contacts leased. Each becomes
        one hold (``hold``) once the transaction committed."""
        if not contact_row_ids:
            return set()
        now = self.now()
        until = now + self._length
        leased_by, leased_until = _contacts.c.turn_leased_by, _contacts.c.turn_leased_until
        result = await session.execute(
            update(_contacts)
            .where(
                _contacts.c.id.in_(sorted(contact_row_ids)),
                or_(
                    leased_by.is_(None),
                    leased_by == self.replica,
                    and_(leased_until.is_not(None), leased_until < now),
                ),
            )
            .values(turn_leased_by=self.replica, turn_leased_until=until)
            .returning(_contacts.c.id)
        )
        taken = set(result.scalars())
        self._pending.update(dict.fromkeys(taken, until))
        return taken

    def hold(self, contact_row_id: str) -> None:
        """One more holder of a lease this process took (``take_in``)."""
        self.held[contact_row_id] = self.held.get(contact_row_id, 0) + 1
        until = self._pending.pop(contact_row_id, None)
        if until is not None:
            self.until[contact_row_id] = max(until, self.until.get(contact_row_id, until))
        self.lost.discard(contact_row_id)

    @property
    def _length(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    async def release(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        contact_row_id: str,
        keep: bool = False,
    ) -> None:
        """Let go of one hold; the lease is freed with the last one. With ``keep`` (another
        worker of this process waits for the contact) it is left in place, still ours, for
        that worker to take at once; if that worker never does, it simply expires."""
        users = self.held.get(contact_row_id, 0) - 1
        if users > 0:
            self.held[contact_row_id] = users
            return
        self.held.pop(contact_row_id, None)
        self.until.pop(contact_row_id, None)
        self.lost.discard(contact_row_id)
        if keep:
            return
        async with gate.hold(), sessions() as session, session.begin():
            await session.execute(
                update(_contacts)
                .where(
                    _contacts.c.id == contact_row_id,
                    _contacts.c.turn_leased_by == self.replica,
                )
                .values(turn_leased_by=None, turn_leased_until=None)
            )

    async def renew(self, sessions: async_sessionmaker[AsyncSession], gate: WriteGate) -> int:
        """Push back the expiry of every lease this process holds; returns how many it renewed.

        ``sessions`` should be connections turns never hold (the front door's): a renewal
        waiting behind the turns it protects lets their leases expire. On SQLite it goes first
        through the write gate. A lease whose row a turn's save has locked just now is skipped
        (PostgreSQL, SKIP LOCKED), not waited for: another replica cannot take it before that
        save ends either, and the save answers what waited. A lease another replica took over
        meanwhile is lost (``lost``): its worker stops before calling the model."""
        ids = sorted(self.held)
        if not ids:
            return 0
        written = {contact_row_id: self.until.get(contact_row_id) for contact_row_id in ids}
        until = self.now() + self._length
        contact_id, leased_by = _contacts.c.id, _contacts.c.turn_leased_by
        async with gate.hold(urgent=True), sessions() as session, session.begin():
            owners = dict(
                (await session.execute(select(contact_id, leased_by).where(contact_id.in_(ids))))
                .tuples()
                .all()
            )
            mine = [i for i in ids if owners.get(i) == self.replica]
            renewed: set[str] = set()
            if mine:
                # In one order, skipping rows locked by a save: never a deadlock, never a wait.
                lockable = (
                    select(contact_id)
                    .where(contact_id.in_(mine), leased_by == self.replica)
                    .order_by(contact_id)
                    .with_for_update(skip_locked=True)
                )
                renewed = set((await session.scalars(lockable)).all())
            if renewed:
                await session.execute(
                    update(_contacts)
                    .where(contact_id.in_(sorted(renewed)), leased_by == self.replica)
                    .values(turn_leased_until=until)
                )
        for contact_row_id in ids:
            if (
                contact_row_id not in self.held
                or self.until.get(contact_row_id) != written[contact_row_id]
            ):
                continue  # released, or taken again, while the renewal ran: not ours to judge
            if contact_row_id in renewed:
                self.until[contact_row_id] = until
            elif owners.get(contact_row_id) != self.replica:
                self._lose(contact_row_id, owners.get(contact_row_id))
        return len(renewed)

    async def ensure(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        contact_row_id: str,
    ) -> bool:
        """Whether this process may start a model call for the contact: True while its lease
        runs for at least half its length (the background renewal keeps it there), else once
        the database confirmed it is still ours; False when another replica took it over.
        Costs no query in the common case."""
        if contact_row_id in self.lost:
            return False
        until = self.until.get(contact_row_id)
        if until is not None and until - self.now() >= self._length / 2:
            return True
        return await self.confirm(sessions, gate, contact_row_id)

    async def confirm(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        contact_row_id: str,
    ) -> bool:
        """Renew one lease now, if it is still this replica's; False (and lost) otherwise."""
        until = self.now() + self._length
        async with gate.hold(urgent=True), sessions() as session, session.begin():
            result = await session.execute(
                update(_contacts)
                .where(
                    _contacts.c.id == contact_row_id,
                    _contacts.c.turn_leased_by == self.replica,
                )
                .values(turn_leased_until=until)
            )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            self._lose(contact_row_id, None)
            return False
        if contact_row_id in self.held:
            self.until[contact_row_id] = until
        return True

    def _lose(self, contact_row_id: str, to: str | None) -> None:
        if contact_row_id not in self.held or contact_row_id in self.lost:
            return
        self.lost.add(contact_row_id)
        fields = {"contact_row_id": contact_row_id, "to_replica": to, "replica": self.replica}
        log.warning(
            "another replica took over a contact this one holds: its worker stops",
            extra={"fields": fields},
        )

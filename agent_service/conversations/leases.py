"""Which replica answers a contact now: a lease on the contact row that expires.

Replicas share the database, not memory. A replica about to answer a contact takes the lease
with one conditional UPDATE (free, already its own, or expired), so of several replicas trying
at once exactly one gets it; it renews the leases it holds (one UPDATE for all of them) while
its turns run, and frees a lease when it is done. A replica that dies stops renewing: once its
lease expired, the first survivor whose sweep (workers/recovery.py) sees the contact takes the
lease over and answers what waits, with one model call. The turn's save keeps its own
conditional claim (agent/outcome.py), so even a replica that was only paused past its lease
cannot save a second answer.
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

    async def take(
        self,
        sessions: async_sessionmaker[AsyncSession],
        gate: WriteGate,
        contact_row_id: str,
    ) -> bool:
        """Take (or keep) the contact's lease; False while another replica's lease runs."""
        now = self.now()
        until = now + timedelta(seconds=self.seconds)
        leased_by, leased_until = _contacts.c.turn_leased_by, _contacts.c.turn_leased_until
        async with gate.hold(), sessions() as session, session.begin():
            before = (
                await session.execute(
                    select(leased_by, leased_until).where(_contacts.c.id == contact_row_id)
                )
            ).first()
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
        previous = before[0] if before is not None else None
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
            .values(turn_leased_by=self.replica, turn_leased_until=now + self._length)
            .returning(_contacts.c.id)
        )
        return set(result.scalars())

    def hold(self, contact_row_id: str) -> None:
        """One more holder of a lease this process took (``take_in``)."""
        self.held[contact_row_id] = self.held.get(contact_row_id, 0) + 1

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
        """Push back the expiry of every lease this process holds; returns how many it still
        holds (a lease another replica took over while this one was stalled is lost)."""
        ids = list(self.held)
        if not ids:
            return 0
        until = self.now() + timedelta(seconds=self.seconds)
        async with gate.hold(), sessions() as session, session.begin():
            result = await session.execute(
                update(_contacts)
                .where(_contacts.c.id.in_(ids), _contacts.c.turn_leased_by == self.replica)
                .values(turn_leased_until=until)
            )
        return int(result.rowcount)  # type: ignore[attr-defined]

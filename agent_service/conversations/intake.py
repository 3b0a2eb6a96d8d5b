"""Messages stored together: the deliveries of one event-loop tick share one write transaction.

A campaign spike brings hundreds of requests at once. Storing each in a transaction of its
own queues them one after another behind the single SQLite writer (or one workspace's bucket
row on PostgreSQL), each paying a commit. Here a request hands its delivery to ``Intake`` and
waits; the first one starts a flush after the current tick, which takes every delivery queued
by then and stores them with ``inbox.receive_many``; deliveries arriving while a flush is in
the database wait for the next one. Alone, a delivery waits for nothing (there is no timer);
under load the batch grows with the load (group commit), so the cost per message falls as
traffic rises instead of the queue growing.

Each delivery keeps its own outcome: a repeat, a refusal by the rate limits or an unknown
workspace affects only that request. A batch that fails for any other reason is stored again
one delivery at a time, so one bad delivery cannot fail its neighbours; but not when the
database could not be reached or was too busy (db/availability.py): each delivery would wait
out the same timeout again, one after the other, while the queue behind them grows. Those
deliveries all get the error (the API answers 503 with Retry-After: nothing stored).

A delivery delayed by the intake's own traffic (its request arrived while stores were in the
database: a slow store, or an event loop busy with a backlog) is charged against the rate
limits as of its request's arrival (core/arrival.py), not of its store: stored later and closer
together than they arrived, such deliveries charged as of the store turned the service's own
backlog into 429s (the PostgreSQL sustained benchmark). One that was not delayed is charged as
of its store, a moment after its arrival (so a test's fixed clock stays consistent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.conversations import inbox
from agent_service.conversations.leases import TurnLeases
from agent_service.conversations.rate_limits import RateLimits
from agent_service.core.arrival import request_started
from agent_service.db.availability import is_unavailable
from agent_service.db.write_gate import WriteGate
from agent_service.schemas.messages import InboundMessage

log = logging.getLogger("agent_service.intake")
# A delivery, the request waiting for its outcome, and since when the intake's own traffic
# delayed it (the loop's clock; None: it was not).
_Queued = tuple[inbox.Arrival, "asyncio.Future[inbox.Received]", float | None]


@dataclass
class Intake:
    """This process's queue of deliveries to store, flushed once per tick."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    gate: WriteGate
    limits: RateLimits | None = None
    leases: TurnLeases | None = None
    max_batch: int = 500
    _queue: list[_Queued] = field(default_factory=list)
    _flushing: asyncio.Task[None] | None = None
    # Per contact with new messages stored here: how many, and the newest ``sent_at``. A
    # worker waiting out a burst window reads it instead of counting in the database
    # (agent/turn.py): a spike's thousand workers wait without a query each.
    track_arrivals: bool = False
    _arrived: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    _storing: bool = False  # a batch is in the database now
    _stored_until: float = 0.0  # when the last store left the database (the loop's clock)

    def arrived(self, contact_row_id: str) -> tuple[int, datetime] | None:
        """New messages of the contact stored by this process, and the newest's ``sent_at``."""
        return self._arrived.get(contact_row_id)

    async def wait_idle(self) -> None:
        """Return once no delivery waits to be stored: a turn about to start lets a spike's
        acknowledgements go first (they cost a millisecond; the turn, tens)."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)

    def _delayed_since(self, queued: float) -> float | None:
        """Since when (the loop's clock) the delivery queued now has been delayed by the
        intake's own traffic: its request's arrival (or now) when a store was in the database
        meanwhile; None when none was (it is charged as of its store, a moment away)."""
        started = request_started.get()
        since = queued if started is None else min(started, queued)
        if self._storing or self._stored_until > since:
            return since
        return None

    def forget(self, contact_row_id: str) -> None:
        self._arrived.pop(contact_row_id, None)

    async def receive(
        self,
        workspace_id: str,
        inbound: InboundMessage,
        respond_async: bool = False,
        charge: bool = False,
    ) -> inbox.Received:
        """Store the delivery with whatever else arrives now; raises what it alone got
        (RateLimited, WorkspaceNotFound, a database error). With ``charge`` it is charged
        against the rate limits (the API's deliveries)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[inbox.Received] = loop.create_future()
        # Read even when the request was dropped: no "exception was never retrieved".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        arrival = inbox.Arrival(workspace_id, inbound, respond_async, charge)
        self._queue.append((arrival, future, self._delayed_since(loop.time())))
        if self._flushing is None:
            self._flushing = loop.create_task(self._flush())
        # The flush runs on if this request is dropped: the delivery is stored either way.
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        try:
            while self._queue:
                await asyncio.sleep(0)  # the rest of this tick's requests join the batch
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                await self._store(batch)
        finally:
            self._flushing = None

    async def _store(self, batch: list[_Queued]) -> None:
        started, now = asyncio.get_running_loop().time(), self.clock()
        arrivals = [
            arrival
            if queued is None
            else replace(arrival, arrived=now - timedelta(seconds=max(0.0, started - queued)))
            for arrival, _, queued in batch
        ]
        self._storing = True
        try:
            outcomes = await inbox.receive_many(
                self.sessions, arrivals, now, self.gate, self.limits, self.leases
            )
        except Exception as exc:
            if len(batch) == 1 or is_unavailable(exc):
                if len(batch) > 1:
                    log.warning(
                        "the database could not take a batch of messages: none stored",
                        extra={"fields": {"messages": len(batch), "error": repr(exc)[:300]}},
                    )
                for _, future, _ in batch:
                    _settle(future, exc)
                return
            log.warning(
                "storing a batch of messages failed: storing them one by one",
                exc_info=exc,
                extra={"fields": {"messages": len(batch)}},
            )
            for item in batch:
                await self._store([item])
            return
        finally:
            self._storing, self._stored_until = False, asyncio.get_running_loop().time()
        if self.track_arrivals:
            for arrival, outcome in zip(arrivals, outcomes, strict=True):
                if isinstance(outcome, inbox.Received) and not outcome.duplicate:
                    count, newest = self._arrived.get(
                        outcome.contact_row_id, (0, arrival.inbound.sent_at)
                    )
                    self._arrived[outcome.contact_row_id] = (
                        count + 1,
                        max(newest, arrival.inbound.sent_at),
                    )
        for (_, future, _), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


def _settle(
    future: asyncio.Future[inbox.Received], outcome: inbox.Received | BaseException
) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)

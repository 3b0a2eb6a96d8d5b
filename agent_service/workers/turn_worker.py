"""Turn workers: processes that answer stored messages and serve no HTTP (``agent-service
turns``, or ``serve --turn-workers M``).

Why: at 200 new messages a second the turns behind the acknowledgements need more CPU than a
2-core machine has, and in one process they share the event loop with the acknowledgements
(issue 14: acknowledgement p99 1.9 s against 50 ms). So the HTTP processes only store and
acknowledge (``AgentDeps.store_only``: no lease taken in the store's transaction, no turn
task), and turn workers, at a lower OS priority (``turn_worker_nice``), find the stored
messages in the database and answer them with the same machinery as before: the contact's
lease (conversations/leases.py) decides which process answers a contact, the conditional claim
of the turn's save keeps each answer exactly-once, the contact's worker (agent/turn.py) answers
its messages in the order sent and waits out the burst window (counting the contact's waiting
messages in the database, since this process stored none of them), and the turn slots share a
worker's turns fairly between workspaces.

The poll (every ``turn_poll_seconds``) reads the contacts with messages ``received``, due (no
retry waiting) and no live lease: the ``(status, contact_id)`` index of ``messages`` answers it
from the waiting rows only. Each workspace's contacts come oldest first, and the workspaces take
turns (a spike of one does not fill the worker before another's first message). The poll takes
the leases of those contacts in one transaction and starts a worker for each; it stops taking
new contacts while it holds twice as many as it has turn slots, so the others' polls share a
backlog. The poll replaces the sweep of workers/recovery.py: a retry that fell due and a
contact whose process died (its lease expired) are found the same way.

What else runs here and not in the HTTP processes, and why:

- the callback dispatcher: the process that saved a turn sends its callbacks at once (the
  turn wakes the dispatcher in memory); an HTTP process would only find them at its poll;
- the lease renewal: only this process holds leases;
- follow-ups: a nudge is turn-like work, and its callback goes through this dispatcher;
- the knowledge index's catch-up: it embeds entries (CPU), which belongs at the lower priority.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import types
from typing import cast

from sqlalchemy import Table, and_, func, or_, select

from agent_service.agent.deps import AgentDeps
from agent_service.agent.turn import process_contact
from agent_service.core.config import Settings
from agent_service.core.heap import freeze_startup_heap
from agent_service.core.logs import configure_logging
from agent_service.db import models
from agent_service.service import build_service
from agent_service.workers.background import DeliveryWorkers
from agent_service.workers.follow_ups import start_follow_up_loop, stop_follow_up_loop

log = logging.getLogger("agent_service.turn_worker")
_contacts = cast(Table, models.Contact.__table__)


async def adopt_waiting(deps: AgentDeps, limit: int) -> int:
    """Lease up to ``limit`` contacts with due messages nobody leased (or whose lease expired)
    and start a worker for each; returns how many."""
    if limit <= 0:
        return 0
    now, wall = deps.clock(), deps.turn_leases.now()
    message, contact = models.Message, models.Contact
    waiting = (
        select(
            message.workspace_id.label("workspace_id"),
            message.contact_id.label("contact_id"),
            contact.external_id.label("external_id"),
            func.min(message.created_at).label("first"),
        )
        .join(contact, contact.id == message.contact_id)
        .where(
            message.status == "received",
            message.direction == "in",
            or_(message.retry_at.is_(None), message.retry_at <= now),
            or_(
                contact.turn_leased_by.is_(None),
                and_(contact.turn_leased_until.is_not(None), contact.turn_leased_until < wall),
            ),
        )
        .group_by(message.workspace_id, message.contact_id, contact.external_id)
        .subquery()
    )
    # Each workspace's contacts oldest first, the workspaces round robin.
    rank = (
        func.row_number()
        .over(partition_by=waiting.c.workspace_id, order_by=(waiting.c.first, waiting.c.contact_id))
        .label("rank")
    )
    ranked = select(waiting, rank).subquery()
    query = (
        select(ranked.c.workspace_id, ranked.c.contact_id, ranked.c.external_id)
        .order_by(ranked.c.rank, ranked.c.first, ranked.c.contact_id)
        .limit(limit)
    )
    async with deps.sessions() as session:
        rows = [(str(w), str(c), str(e)) for w, c, e in (await session.execute(query)).all()]
    candidates = [row for row in rows if not deps.contact_locks.is_held(row[0], row[2])]
    if not candidates:
        return 0
    leases = deps.turn_leases
    async with deps.write_gate.hold(), deps.sessions() as session, session.begin():
        # Rows in one order, skipping those another process's transaction holds (its save or
        # its own poll): never a deadlock between two turn workers, never a wait.
        lockable = (
            select(_contacts.c.id)
            .where(_contacts.c.id.in_(sorted({c for _, c, _ in candidates})))
            .order_by(_contacts.c.id)
            .with_for_update(skip_locked=True)
        )
        locked = set((await session.scalars(lockable)).all())
        taken = await leases.take_in(session, locked)
    for workspace_id, contact_row_id, external_id in candidates:
        if contact_row_id in taken:
            leases.hold(contact_row_id)
            deps.turn_tasks.spawn(
                process_contact(deps, workspace_id, contact_row_id, external_id, leased=True)
            )
    return len(taken)


async def poll_waiting(deps: AgentDeps) -> None:
    """Forever: every ``turn_poll_seconds``, adopt what waits, while this process has room."""
    every, most = deps.settings.turn_poll_seconds, 2 * deps.settings.max_concurrent_turns
    while True:
        try:
            await adopt_waiting(deps, most - len(deps.turn_leases.held))
        except Exception:  # the poll must outlive a bad moment of the database
            log.exception("looking for messages to answer failed")
        await asyncio.sleep(every)


class TurnWorker(DeliveryWorkers):
    """The loops of one turn-worker process: the poll instead of the start-up recovery and the
    sweep, and the follow-ups; stopping leaves unfinished turns ``received`` (another turn
    worker, or this one restarted, answers them once their leases expire)."""

    def __init__(self, deps: AgentDeps) -> None:
        super().__init__(deps)
        self._follow_ups: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._run(poll_waiting(self.deps))
        self._follow_ups = start_follow_up_loop(types.SimpleNamespace(), self.deps)

    async def stop(self) -> None:
        await stop_follow_up_loop(self._follow_ups)
        await super().stop()


def run_turn_worker(settings: Settings) -> None:
    """One turn-worker process, until SIGTERM or SIGINT: lower priority, the service's start-up
    (migrations and seeding under the start-up lock, as any replica), then the loops."""
    configure_logging(settings.log_level, settings.log_json)
    if settings.turn_worker_nice:
        os.nice(settings.turn_worker_nice)

    async def main() -> None:
        service = build_service(settings)
        await service.start()
        frozen = freeze_startup_heap()  # no full-collection pauses over the models (core/heap.py)
        worker = TurnWorker(service.deps)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.start()
        log.info(
            "turn worker started",
            extra={
                "fields": {
                    "replica": service.deps.turn_leases.replica,
                    "nice": os.nice(0),
                    "poll_seconds": settings.turn_poll_seconds,
                    "frozen_objects": frozen,
                }
            },
        )
        try:
            await stop.wait()
        finally:
            await worker.stop()
            await service.stop()
            log.info("turn worker stopped")

    asyncio.run(main())

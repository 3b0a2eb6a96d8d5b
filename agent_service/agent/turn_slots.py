"""Turns in flight share a fixed number of slots, handed out fairly between workspaces.

A campaign spike queues a thousand turns of one workspace in a few seconds. With a plain
semaphore (first come, first served) another workspace's customer, arriving a second later,
would wait behind all of them. Here each workspace has its own queue of waiting turns, oldest
first, and a freed slot goes to the waiting workspace with the fewest turns in flight (the
one waiting longest since it was last served, among equals): a workspace with nothing in
flight gets the next slot, however long another's queue is, and workspaces with equal shares
take turns (round robin). Within a
workspace turns start in the order they asked, so its customers are answered in the order
they wrote. A contact's own messages are ordered by its worker (agent/turn.py), one turn at a
time.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from agent_service.core.metrics import TURNS_IN_FLIGHT, TURNS_WAITING


class FairSlots:
    """At most ``size`` holders at once; a freed slot goes to the waiting workspace with the
    fewest in flight, round robin among equals."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free = size
        # Workspaces with waiters, in the order they are served next (dicts keep order).
        self._waiting: dict[str, deque[asyncio.Future[None]]] = {}
        self._in_flight: dict[str, int] = {}

    def waiting(self, workspace_id: str | None = None) -> int:
        """Turns waiting for a slot (of one workspace, or all)."""
        queues = (
            [self._waiting.get(workspace_id, deque())]
            if workspace_id is not None
            else list(self._waiting.values())
        )
        return sum(sum(1 for f in q if not f.done()) for q in queues)

    @asynccontextmanager
    async def hold(self, workspace_id: str) -> AsyncIterator[None]:
        await self._acquire(workspace_id)
        self._in_flight[workspace_id] = self._in_flight.get(workspace_id, 0) + 1
        TURNS_IN_FLIGHT.inc()
        try:
            yield
        finally:
            TURNS_IN_FLIGHT.dec()
            left = self._in_flight[workspace_id] - 1
            if left:
                self._in_flight[workspace_id] = left
            else:
                del self._in_flight[workspace_id]
            self._release()

    async def _acquire(self, workspace_id: str) -> None:
        if self._free > 0 and not self._waiting:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(workspace_id, deque()).append(granted)
        TURNS_WAITING.inc()
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # the slot came as the waiter was cancelled: pass it on
            else:
                self._forget(workspace_id, granted)
            raise
        finally:
            TURNS_WAITING.dec()

    def _release(self) -> None:
        while self._waiting:
            workspace_id = min(self._waiting, key=lambda w: self._in_flight.get(w, 0))
            queue = self._waiting[workspace_id]
            granted = queue.popleft()
            del self._waiting[workspace_id]
            if queue:
                self._waiting[workspace_id] = queue  # to the back of the round
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1

    def _forget(self, workspace_id: str, granted: asyncio.Future[None]) -> None:
        queue = self._waiting.get(workspace_id)
        if queue is None:
            return
        with suppress(ValueError):
            queue.remove(granted)
        if not queue:
            del self._waiting[workspace_id]

"""One writer at a time, queued in order: SQLite admits a single writer, and its own busy
handler retries with sleeps of up to 100 ms and no fairness, so a burst of writers starves.

Storing arriving messages goes first (``hold(urgent=True)``): under a campaign spike hundreds
of turns queue their saves and lease updates, and a customer's acknowledgement must not wait
behind them. Intake writes are batched (conversations/intake.py), so one urgent writer at a
time cannot starve the turns: between two batches the next turn's write goes in.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriteGate:
    """On SQLite, write transactions of this process queue here (FIFO, urgent ones first);
    elsewhere a no-op."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._busy = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def hold(self, urgent: bool = False) -> AsyncIterator[None]:
        if not self.enabled:
            yield
            return
        await self._acquire(self._urgent if urgent else self._normal)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, queue: deque[asyncio.Future[None]]) -> None:
        if not self._busy and not self._urgent and not self._normal:
            self._busy = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self._release()  # handed over as the waiter was cancelled: pass it on
            else:
                queue.remove(turn)
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                turn = queue.popleft()
                if not turn.done():
                    turn.set_result(None)  # stays busy: handed over
                    return
        self._busy = False

"""One writer at a time, queued in order: SQLite admits a single writer, and its own busy
handler retries with sleeps of up to 100 ms and no fairness, so a burst of writers starves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WriteGate:
    """On SQLite, write transactions of this process queue here (FIFO); elsewhere a no-op."""

    def __init__(self, enabled: bool = True) -> None:
        self._lock = asyncio.Lock() if enabled else None

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if self._lock is None:
            yield
            return
        async with self._lock:
            yield

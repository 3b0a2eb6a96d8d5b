"""Concurrent turns' retrieval queries embedded together: one model pass serves many turns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Vectors = np.ndarray[Any, Any]


class QueryBatcher:
    """While one batch is being embedded (in a thread), new queries gather for the next one.

    Under load a batch of 32 costs a fraction of 32 single calls; alone, a query waits for
    nothing (there is no timer).
    """

    def __init__(self, embed: Callable[[list[str]], Vectors], max_batch: int = 64) -> None:
        self._embed, self._max = embed, max_batch
        self._waiting: list[tuple[str, asyncio.Future[Vectors]]] = []
        self._running = False
        self._drainer: asyncio.Task[None] | None = None

    async def embed(self, texts: Sequence[str]) -> Vectors:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Vectors]] = [loop.create_future() for _ in texts]
        self._waiting.extend(zip(texts, futures, strict=True))
        if not self._running:
            self._running = True
            self._drainer = loop.create_task(self._drain())
        return np.stack(await asyncio.gather(*futures))

    async def _drain(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
                try:
                    vectors = await asyncio.to_thread(self._embed, [text for text, _ in batch])
                except Exception as exc:  # every waiting turn gets the error, none hangs
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), vector in zip(batch, vectors, strict=True):
                    if not future.done():
                        future.set_result(vector)
        finally:
            self._running = False

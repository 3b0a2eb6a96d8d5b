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

    ``prefetch`` starts a message's embedding the moment the message arrives, so the model runs
    on one core while the turn stores the message and reads the contact on the other; the
    turn's ``embed`` of the same text then takes that result instead of starting over.
    """

    def __init__(
        self, embed: Callable[[list[str]], Vectors], max_batch: int = 64, max_ahead: int = 256
    ) -> None:
        self._embed, self._max, self._max_ahead = embed, max_batch, max_ahead
        self._waiting: list[tuple[str, asyncio.Future[Vectors]]] = []
        self._ahead: dict[str, asyncio.Future[Vectors]] = {}
        self._busy: asyncio.Future[Vectors] | None = None  # the batch in the thread now

    def prefetch(self, text: str) -> None:
        """Start embedding ``text`` now, for an ``embed`` that will ask for it soon."""
        if text in self._ahead:
            return
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        # A prefetch nobody claims (a repeat, a message merged into a burst) must not log
        # "exception was never retrieved".
        future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._ahead[text] = future
        while len(self._ahead) > self._max_ahead:
            del self._ahead[next(iter(self._ahead))]  # the oldest unclaimed one
        self._enqueue([(text, future)])

    async def embed(self, texts: Sequence[str]) -> Vectors:
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Vectors]] = []
        fresh: list[tuple[str, asyncio.Future[Vectors]]] = []
        for text in texts:
            future = self._ahead.pop(text, None)
            if future is None:
                future = loop.create_future()
                fresh.append((text, future))
            futures.append(future)
        self._enqueue(fresh)
        return np.stack(await asyncio.gather(*futures))

    def _enqueue(self, items: list[tuple[str, asyncio.Future[Vectors]]]) -> None:
        self._waiting.extend(items)
        if self._waiting and self._busy is None:
            self._start_batch()

    def _start_batch(self) -> None:
        # Handed to the thread right here, not from a task: a task would start it only after
        # the caller's next await, and the embedding is the longest step of a turn.
        batch, self._waiting = self._waiting[: self._max], self._waiting[self._max :]
        loop = asyncio.get_running_loop()
        busy = loop.run_in_executor(None, self._embed, [text for text, _ in batch])
        busy.add_done_callback(lambda done: self._finish(batch, done))
        self._busy = busy

    def _finish(
        self, batch: list[tuple[str, asyncio.Future[Vectors]]], done: asyncio.Future[Vectors]
    ) -> None:
        self._busy = None
        if done.cancelled():  # the loop is shutting down
            for _, future in batch:
                future.cancel()
            return
        error = done.exception()
        if error is not None:  # every waiting turn gets the error, none hangs
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            for (_, future), vector in zip(batch, done.result(), strict=True):
                if not future.done():
                    future.set_result(vector)
        if self._waiting:
            self._start_batch()

"""The API keys asked for in one event-loop tick, read together: one connection, one query.

Every ``POST /v1/messages`` reads its key and its workspace's delivery settings before anything
is stored. Read one request at a time, a spike's requests each waited for one of the front
door's few connections (api/deps.py), in order; when the event loop fell behind (a busy
machine, turns' CPU), the queue for connections grew past the pool's timeout and every request
in it failed with a 500, although the database was idle. Here the first request of a tick
starts a read after the current tick; it reads every key asked for by then, and the delivery
settings of their workspaces, with two queries on one connection; requests arriving meanwhile
wait for the next read. The connections a spike needs no longer grow with the spike.

A key found is then kept for ``ttl`` seconds (``api_key_cache_seconds``, 1 by default), with
its workspace's delivery settings: under a spike a process reads each key about once a second
instead of once a tick. What that costs: a key revoked, or delivery settings changed (callback
URL, signing secret), on another process take effect here within that window. In the process
that made the change they take effect at once (``forget``, called once the change committed).
A key not found is not kept: a key created a moment ago works at once everywhere. 0 turns the
cache off (every tick reads, as before).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models

Found = tuple[models.ApiKey | None, models.DeliverySettings | None]


@dataclass
class KeyReads:
    """This process's pending key reads, by key hash."""

    sessions: async_sessionmaker[AsyncSession]
    max_batch: int = 500
    ttl: float = 0.0  # seconds a key found is kept (0: not at all)
    max_kept: int = 10_000
    _waiting: dict[str, asyncio.Future[Found]] = field(default_factory=dict)
    _reading: asyncio.Task[None] | None = None
    # By key hash: what was read, and until when it holds (the loop's clock).
    _kept: dict[str, tuple[Found, float]] = field(default_factory=dict)
    _generation: int = 0  # moved by ``forget``
    _read_generation: int = 0  # ``_generation`` when the last read started

    async def read(self, key_hash: str) -> Found:
        """The key with this hash (None if unknown) and its workspace's delivery settings."""
        kept = self._kept.get(key_hash)
        if kept is not None:
            found, until = kept
            if asyncio.get_running_loop().time() < until:
                return found
            del self._kept[key_hash]
        future = self._waiting.get(key_hash)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._waiting[key_hash] = future
        if self._reading is None:
            self._reading = asyncio.get_running_loop().create_task(self._read_all())
        return await asyncio.shield(future)

    async def _read_all(self) -> None:
        try:
            while self._waiting:
                await asyncio.sleep(0)  # the rest of this tick's requests join the read
                hashes = list(self._waiting)[: self.max_batch]
                batch = {h: self._waiting.pop(h) for h in hashes}
                try:
                    found = await self._read(list(batch))
                except Exception as error:
                    for future in batch.values():
                        if not future.done():
                            future.set_exception(error)
                    continue
                self._keep(found)
                for key_hash, future in batch.items():
                    if not future.done():
                        future.set_result(found.get(key_hash, (None, None)))
        finally:
            self._reading = None

    def forget(self, workspace_id: str) -> None:
        """Drop what is kept of the workspace's keys: a key revoked or delivery settings
        changed by this process hold from its next request on."""
        for key_hash in [
            h
            for h, ((key, _), _) in self._kept.items()
            if key is not None and key.workspace_id == workspace_id
        ]:
            del self._kept[key_hash]
        # A read under way may have started before the change: what it finds is not kept.
        self._generation += 1

    def _keep(self, found: dict[str, Found]) -> None:
        if self.ttl <= 0 or self._generation != self._read_generation:
            return
        now = asyncio.get_running_loop().time()
        if len(self._kept) + len(found) > self.max_kept:
            self._kept = {h: kept for h, kept in self._kept.items() if kept[1] > now}
            if len(self._kept) + len(found) > self.max_kept:
                self._kept.clear()
        until = now + self.ttl
        for key_hash, read in found.items():
            self._kept[key_hash] = (read, until)

    async def _read(self, hashes: list[str]) -> dict[str, Found]:
        self._read_generation = self._generation
        async with self.sessions() as session:
            keys = list(
                await session.scalars(
                    select(models.ApiKey).where(models.ApiKey.key_hash.in_(hashes))
                )
            )
            workspaces = {key.workspace_id for key in keys}
            settings = (
                {
                    row.workspace_id: row
                    for row in await session.scalars(
                        select(models.DeliverySettings).where(
                            models.DeliverySettings.workspace_id.in_(workspaces)
                        )
                    )
                }
                if workspaces
                else {}
            )
        return {key.key_hash: (key, settings.get(key.workspace_id)) for key in keys}

"""The API keys asked for in one event-loop tick, read together: one connection, one query.

Every ``POST /v1/messages`` reads its key and its workspace's delivery settings before anything
is stored. Read one request at a time, a spike's requests each waited for one of the front
door's few connections (api/deps.py), in order; when the event loop fell behind (a busy
machine, turns' CPU), the queue for connections grew past the pool's timeout and every request
in it failed with a 500, although the database was idle. Here the first request of a tick
starts a read after the current tick; it reads every key asked for by then, and the delivery
settings of their workspaces, with two queries on one connection; requests arriving meanwhile
wait for the next read. The connections a spike needs no longer grow with the spike.

Nothing is cached between reads: a revoked key is refused by the next read, as before.
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
    _waiting: dict[str, asyncio.Future[Found]] = field(default_factory=dict)
    _reading: asyncio.Task[None] | None = None

    async def read(self, key_hash: str) -> Found:
        """The key with this hash (None if unknown) and its workspace's delivery settings."""
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
                for key_hash, future in batch.items():
                    if not future.done():
                        future.set_result(found.get(key_hash, (None, None)))
        finally:
            self._reading = None

    async def _read(self, hashes: list[str]) -> dict[str, Found]:
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

"""Knowledge entries: stored in the database, mirrored in the vector index, never out of step."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db.models import KnowledgeEntry
from agent_service.ids import new_id
from agent_service.knowledge_base.index import Hit, IndexedEntry, KnowledgeIndex


@dataclass(frozen=True)
class EntryData:
    """What an admin or an import provides for one entry."""

    question: str
    answer: str
    language: str
    tags: Sequence[str] = ()
    valid_until: date | None = None


def _indexed(entry: KnowledgeEntry) -> IndexedEntry:
    return IndexedEntry(entry.id, entry.question, entry.answer, entry.language, entry.valid_until)


class KnowledgeBase:
    """Create, change and search a workspace's knowledge; the database is the source of truth."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], index: KnowledgeIndex) -> None:
        self._sessions = sessions
        self.index = index

    async def add_many(
        self, workspace_id: str, items: Sequence[EntryData], now: datetime
    ) -> list[KnowledgeEntry]:
        """Store and index entries in one step: if indexing fails, nothing is stored."""
        async with self._sessions() as session, session.begin():
            rows = [
                KnowledgeEntry(
                    id=new_id("kb"),
                    workspace_id=workspace_id,
                    question=item.question,
                    answer=item.answer,
                    language=item.language,
                    tags=list(item.tags),
                    valid_until=item.valid_until,
                    created_at=now,
                    updated_at=now,
                )
                for item in items
            ]
            session.add_all(rows)
            await session.flush()
            await asyncio.to_thread(self.index.upsert, workspace_id, [_indexed(r) for r in rows])
        return rows

    async def update(
        self, workspace_id: str, entry_id: str, item: EntryData, now: datetime
    ) -> KnowledgeEntry | None:
        async with self._sessions() as session, session.begin():
            row = await self._get(session, workspace_id, entry_id)
            if row is None:
                return None
            row.question, row.answer, row.language = item.question, item.answer, item.language
            row.tags, row.valid_until, row.updated_at = list(item.tags), item.valid_until, now
            await session.flush()
            await asyncio.to_thread(self.index.upsert, workspace_id, [_indexed(row)])
        return row

    async def delete(self, workspace_id: str, entry_id: str) -> bool:
        async with self._sessions() as session, session.begin():
            row = await self._get(session, workspace_id, entry_id)
            if row is None:
                return False
            await session.execute(delete(KnowledgeEntry).where(KnowledgeEntry.id == row.id))
            await asyncio.to_thread(self.index.delete, workspace_id, [entry_id])
        return True

    async def get(self, workspace_id: str, entry_id: str) -> KnowledgeEntry | None:
        async with self._sessions() as session:
            return await self._get(session, workspace_id, entry_id)

    async def reindex(self, workspace_id: str) -> int:
        """Rebuild the workspace's vector index from the stored entries."""
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(KnowledgeEntry).where(KnowledgeEntry.workspace_id == workspace_id)
                )
            ).all()
        await asyncio.to_thread(self.index.clear, workspace_id)
        await asyncio.to_thread(self.index.upsert, workspace_id, [_indexed(r) for r in rows])
        return len(rows)

    async def index_size(self, workspace_id: str) -> int:
        """How many entries the vector index holds for the workspace."""
        return await asyncio.to_thread(self.index.count, workspace_id)

    async def search(
        self, workspace_id: str, vector: list[float], k: int, today: date
    ) -> list[Hit]:
        return await asyncio.to_thread(self.index.search, workspace_id, vector, k, today)

    @staticmethod
    async def _get(
        session: AsyncSession, workspace_id: str, entry_id: str
    ) -> KnowledgeEntry | None:
        return await session.scalar(
            select(KnowledgeEntry).where(
                KnowledgeEntry.id == entry_id, KnowledgeEntry.workspace_id == workspace_id
            )
        )

"""Model tokens per workspace per day: the counter behind the daily token cap (OWASP LLM10)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models


async def tokens_used(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str, day: date
) -> int:
    async with sessions() as session:
        row = await session.get(models.ModelUsageDaily, (workspace_id, day))
        return row.tokens if row is not None else 0


async def add_usage(
    session: AsyncSession, workspace_id: str, day: date, calls: int, tokens: int
) -> None:
    """Add usage inside the caller's transaction (a turn's save, or a preview's own):
    one atomic upsert, so concurrent turns never lose a count."""
    if calls == 0 and tokens == 0:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    row = insert(models.ModelUsageDaily).values(
        workspace_id=workspace_id, day=day, model_calls=calls, tokens=tokens
    )
    await session.execute(
        row.on_conflict_do_update(
            index_elements=["workspace_id", "day"],
            set_={
                "model_calls": models.ModelUsageDaily.model_calls + row.excluded.model_calls,
                "tokens": models.ModelUsageDaily.tokens + row.excluded.tokens,
            },
        )
    )

"""Model tokens per workspace per day: the counter behind the daily token cap (OWASP LLM10)."""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models


async def tokens_used(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str, day: date
) -> int:
    async with sessions() as session:
        row = await session.get(models.ModelUsageDaily, (workspace_id, day))
        return row.tokens if row is not None else 0


@cache
def _upsert(dialect: str) -> Any:
    """usage += (calls, tokens), one statement; built once per dialect (a turn's save runs it)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    usage = cast(Table, models.ModelUsageDaily.__table__)
    row = insert(usage)
    return row.on_conflict_do_update(
        index_elements=["workspace_id", "day"],
        set_={
            "model_calls": usage.c.model_calls + row.excluded.model_calls,
            "tokens": usage.c.tokens + row.excluded.tokens,
        },
    )


async def add_usage(
    session: AsyncSession, workspace_id: str, day: date, calls: int, tokens: int
) -> None:
    """Add usage inside the caller's transaction (a turn's save, or a preview's own):
    one atomic upsert, so concurrent turns never lose a count."""
    if calls == 0 and tokens == 0:
        return
    await session.execute(
        _upsert(session.get_bind().dialect.name),
        {"workspace_id": workspace_id, "day": day, "model_calls": calls, "tokens": tokens},
    )

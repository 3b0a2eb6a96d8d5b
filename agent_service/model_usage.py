"""Model tokens per workspace per day: the counter behind the daily token cap (OWASP LLM10)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models


async def tokens_used(
    sessions: async_sessionmaker[AsyncSession], workspace_id: str, day: date
) -> int:
    async with sessions() as session:
        row = await session.get(models.ModelUsageDaily, (workspace_id, day))
        return row.tokens if row is not None else 0


async def add_usage(
    sessions: async_sessionmaker[AsyncSession],
    workspace_id: str,
    day: date,
    calls: int,
    tokens: int,
) -> None:
    """Add one turn's usage; an atomic increment, so concurrent turns never lose a count."""
    if calls == 0 and tokens == 0:
        return
    for _ in range(3):
        try:
            async with sessions() as session, session.begin():
                result = await session.execute(
                    update(models.ModelUsageDaily)
                    .where(
                        models.ModelUsageDaily.workspace_id == workspace_id,
                        models.ModelUsageDaily.day == day,
                    )
                    .values(
                        model_calls=models.ModelUsageDaily.model_calls + calls,
                        tokens=models.ModelUsageDaily.tokens + tokens,
                    )
                )
                if getattr(result, "rowcount", 0) == 0:
                    session.add(
                        models.ModelUsageDaily(
                            workspace_id=workspace_id, day=day, model_calls=calls, tokens=tokens
                        )
                    )
            return
        except IntegrityError:
            continue  # another turn created today's row first: increment it instead

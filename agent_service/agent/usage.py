"""A turn's model usage (calls, tokens, latencies), and the tokens per workspace per day
behind the daily token cap (OWASP LLM10)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, cast

from langchain_core.messages import AIMessage
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.db import models
from agent_service.schemas.brains import Brain
from agent_service.schemas.messages import TurnUsage


@dataclass
class ModelUsage:
    """The model calls of one turn (or preview): what is stored, charged, logged and sent."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def count_request(self) -> None:
        """One request sent to the model, answered or not: a failed attempt is a call too."""
        self.calls += 1

    def add(self, message: AIMessage, latency_ms: float = 0.0) -> None:
        """The reply of a call (counted by ``count_request``): its tokens and latency."""
        self.latencies_ms.append(round(latency_ms, 2))
        if message.usage_metadata:
            self.input_tokens += message.usage_metadata.get("input_tokens", 0)
            self.output_tokens += message.usage_metadata.get("output_tokens", 0)

    def as_turn_usage(self, brain: Brain, model: str, prompt_version: str) -> TurnUsage:
        """The usage as the API's response shows it."""
        return TurnUsage(
            brain=brain,
            model=model,
            prompt_version=prompt_version,
            model_calls=self.calls,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
        )


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


async def add_usage(session: AsyncSession, workspace_id: str, day: date, usage: ModelUsage) -> None:
    """Add usage inside the caller's transaction (a turn's save, or a preview's own):
    one atomic upsert, so concurrent turns never lose a count."""
    if usage.calls == 0 and usage.tokens == 0:
        return
    await session.execute(
        _upsert(session.get_bind().dialect.name),
        {
            "workspace_id": workspace_id,
            "day": day,
            "model_calls": usage.calls,
            "tokens": usage.tokens,
        },
    )

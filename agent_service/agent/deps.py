"""The agent's dependencies in one object, so tests and evals replay a turn exactly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from langchain_core.language_models import BaseChatModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agent.circuit_breaker import CircuitBreakers
from agent_service.agent.intents import IntentDetector
from agent_service.core.config import Settings
from agent_service.knowledge_base.embeddings import QueryEmbeddings
from agent_service.knowledge_base.store import KnowledgeBase
from agent_service.rate_limits import RateLimits


def utc_now() -> datetime:
    return datetime.now(UTC)


class ContactLocks:
    """One turn at a time per contact within this process."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, workspace_id: str, contact_id: str) -> AsyncIterator[None]:
        key = (workspace_id, contact_id)
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass
class AgentDeps:
    """Stores, retriever, chat model and clock for ``run_turn``."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    knowledge: KnowledgeBase
    embeddings: QueryEmbeddings
    intents: IntentDetector
    chat_model: BaseChatModel | None = None
    model_name: str = "offline-planner"
    clock: Callable[[], datetime] = utc_now
    contact_locks: ContactLocks = field(default_factory=ContactLocks)
    # issue 5: per-process guards built from the settings and the clock.
    breakers: CircuitBreakers = field(init=False)
    rate_limits: RateLimits = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.breakers = CircuitBreakers(
            s.breaker_failure_threshold, timedelta(seconds=s.breaker_cooldown_seconds), self.clock
        )
        self.rate_limits = RateLimits(s, self.clock)

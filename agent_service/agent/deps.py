"""The agent's dependencies in one object, so tests and evals replay a turn exactly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from langchain_core.language_models import BaseChatModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent_service.agent.circuit_breaker import CircuitBreakers
from agent_service.agent.intents.detector import IntentDetector
from agent_service.agent.query_batcher import QueryBatcher
from agent_service.agent.turn_slots import FairSlots
from agent_service.conversations.intake import Intake
from agent_service.conversations.leases import TurnLeases, new_replica_id
from agent_service.conversations.rate_limits import RateLimits
from agent_service.core.config import Settings
from agent_service.db.write_gate import WriteGate
from agent_service.knowledge_base.embeddings import QueryEmbeddings
from agent_service.knowledge_base.store import KnowledgeBase
from agent_service.schemas.brains import OFFLINE_MODEL_NAME
from agent_service.workspaces.config import WorkspaceConfigs


def utc_now() -> datetime:
    return datetime.now(UTC)


log = logging.getLogger("agent_service.turns")
T = TypeVar("T")


class ContactLocks:
    """One turn at a time per contact within this process (the database guards across them)."""

    def __init__(self) -> None:
        self._locks: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}

    def is_held(self, workspace_id: str, contact_id: str) -> bool:
        return (workspace_id, contact_id) in self._locks

    def users(self, workspace_id: str, contact_id: str) -> int:
        """Workers holding or waiting for the contact's lock."""
        return self._locks.get((workspace_id, contact_id), (None, 0))[1]

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


class TurnTasks:
    """Turns run as tasks of their own: a dropped request or a 202 never aborts a turn half-way."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The message stays "received": the sweep (workers/recovery.py) answers it.
            log.error("turn task failed", exc_info=task.exception())

    async def cancel_all(self) -> None:
        """At shutdown: unfinished turns are left to start-up recovery, never half-saved."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class AgentDeps:
    """Stores, retriever, chat model and clock for ``run_turn``."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    knowledge: KnowledgeBase
    embeddings: QueryEmbeddings
    intents: IntentDetector
    chat_model: BaseChatModel | None = None
    model_name: str = OFFLINE_MODEL_NAME
    clock: Callable[[], datetime] = utc_now
    # The front door's own connections (storing messages, reading API keys): a spike's turns
    # queueing for the main pool never delay an acknowledgement. None: the main pool.
    front_sessions: async_sessionmaker[AsyncSession] | None = None
    contact_locks: ContactLocks = field(default_factory=ContactLocks)
    # Waiting (bursts) goes through ``sleep`` so tests can shorten it.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    turn_tasks: TurnTasks = field(default_factory=TurnTasks)
    # Set when a callback is ready so the dispatcher sends it without waiting for its poll.
    outbox_ready: asyncio.Event = field(default_factory=asyncio.Event)
    write_gate: WriteGate = field(default_factory=WriteGate)
    configs: WorkspaceConfigs = field(default_factory=WorkspaceConfigs)
    # False in an HTTP process whose messages turn workers answer (``store_only``).
    answers_here: bool = True
    # Guards built from the settings and the clock: the breakers are per process; the rate
    # limits' buckets are shared through the database (this keeps what it last saw of them).
    breakers: CircuitBreakers = field(init=False)
    rate_limits: RateLimits = field(init=False)
    query_batcher: QueryBatcher = field(init=False)
    # Which contacts this process answers now, leased in the database (one replica a contact).
    turn_leases: TurnLeases = field(init=False)
    # Deliveries stored together, one transaction per event-loop tick.
    intake: Intake = field(init=False)
    # Turns in flight, bounded (so a spike cannot exhaust the database pool or the memory)
    # and handed out fairly between workspaces.
    turn_slots: FairSlots = field(init=False)
    # Retrieval (embedding and search, CPU-bound) a few turns at a time, so that a spike's
    # turns do not all queue inside the search's deadline.
    retrieval_slots: asyncio.Semaphore = field(init=False)

    def store_only(self) -> None:
        """This process stores and acknowledges messages and answers none: separate turn
        workers (workers/turn_worker.py) pick them up from the database. Its intake takes no
        lease (a turn worker takes it) and keeps no arrivals for burst windows it never waits
        out."""
        self.answers_here = False
        self.intake.leases = None
        self.intake.track_arrivals = False

    @property
    def front(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for the front door: its own pool when configured, else the main one."""
        return self.front_sessions or self.sessions

    def __post_init__(self) -> None:
        s = self.settings
        self.breakers = CircuitBreakers(
            s.breaker_failure_threshold, timedelta(seconds=s.breaker_cooldown_seconds), self.clock
        )
        self.rate_limits = RateLimits(s, self.clock)
        self.query_batcher = QueryBatcher(self.embeddings.embed_queries)
        self.turn_leases = TurnLeases(new_replica_id(), s.turn_lease_seconds)
        self.intake = Intake(
            self.front,
            self.clock,
            self.write_gate,
            self.rate_limits,
            self.turn_leases,
            track_arrivals=s.burst_window_seconds > 0,
        )
        self.turn_slots = FairSlots(s.max_concurrent_turns)
        self.retrieval_slots = asyncio.Semaphore(s.retrieval_concurrency)

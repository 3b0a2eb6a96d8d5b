"""Assembling the service: database, vector index, models; first-start demo workspace."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from langchain_core.language_models import BaseChatModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from agent_service.agent.chat_model import build_chat_model
from agent_service.agent.deps import AgentDeps, utc_now
from agent_service.agent.intents.detector import IntentDetector
from agent_service.core.circuit_breaker import CircuitBreaker
from agent_service.core.config import Settings
from agent_service.core.language import detect_language
from agent_service.db import models
from agent_service.db.migrate import upgrade
from agent_service.db.session import create_engine, open_pool
from agent_service.db.startup_lock import startup_lock
from agent_service.db.write_gate import WriteGate
from agent_service.knowledge_base.embeddings import QueryEmbeddings, build_embeddings
from agent_service.knowledge_base.index import KnowledgeIndex
from agent_service.knowledge_base.store import KnowledgeBase
from agent_service.reports.rollups import keep_rollups_current
from agent_service.schemas.brains import OFFLINE_MODEL_NAME
from agent_service.workspaces.setup import (
    DEMO_WORKSPACE_ID,
    create_workspace,
    demo_knowledge,
    demo_template,
    ensure_key,
)

log = logging.getLogger("agent_service")


@dataclass
class Service:
    settings: Settings
    engine: AsyncEngine
    deps: AgentDeps
    front_engine: AsyncEngine | None = None
    # Keys generated for the demo workspace at this start, by role: the server prints them.
    printed_keys: dict[str, str] = field(default_factory=dict)

    async def start(self) -> None:
        """Warm up the models; then, one replica at a time, migrate, open the local vector
        index and create the demo workspace on first start.

        The second part holds the database's start-up lock (db/startup_lock.py): replicas
        started together would otherwise run the same migrations, Chroma set-up and seeding at
        once and crash each other. A replica that waits finds the work done.
        """
        detect_language("warm up the language models", "en")
        self.deps.embeddings.embed_queries(["warm up"])
        async with startup_lock(self.engine) as connection:
            await upgrade(connection)
            self.deps.knowledge.index.open()
            if self.settings.seed_demo:
                await self._seed_demo()
        if self.front_engine is not None:
            await open_pool(self.front_engine)

    async def stop(self) -> None:
        await self.engine.dispose()
        if self.front_engine is not None:
            await self.front_engine.dispose()

    async def _seed_demo(self) -> None:
        """Check, then create (under the start-up lock, so exactly one replica creates): the
        workspace and its knowledge when it is missing, each configured key when no key has its
        hash, and a generated key for a role that has none."""
        settings, now = self.settings, self.deps.clock()
        async with self.deps.sessions() as session, session.begin():
            created = await session.get(models.Workspace, DEMO_WORKSPACE_ID) is None
            if created:
                template = demo_template(settings.prompts_dir, settings.demo_dir)
                await create_workspace(session, template, now, workspace_id=DEMO_WORKSPACE_ID)
        if created:
            await self.deps.knowledge.add_many(
                DEMO_WORKSPACE_ID, demo_knowledge(settings.demo_dir), now
            )
        async with self.deps.sessions() as session, session.begin():
            for role, key in (
                ("channel", settings.demo_channel_key),
                ("admin", settings.demo_admin_key),
                ("qa", settings.demo_qa_key),
            ):
                has_role = await _has_key(session, role)
                if key is not None or not has_role:
                    plain = await ensure_key(session, DEMO_WORKSPACE_ID, role, key, now)
                    if plain is not None:
                        self.printed_keys[role] = plain


async def _has_key(session: object, role: str) -> bool:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(session, AsyncSession)
    keys = await session.scalars(select(models.ApiKey).filter_by(workspace_id=DEMO_WORKSPACE_ID))
    return any(role in k.roles and k.revoked_at is None for k in keys)


@lru_cache(maxsize=4)
def _intent_detector(embeddings: QueryEmbeddings) -> IntentDetector:
    return IntentDetector(embeddings)


def build_service(
    settings: Settings,
    chat_model: BaseChatModel | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Service:
    """Everything ``run_turn`` needs; a given chat model replaces the configured one."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keep_rollups_current()  # report roll-ups are written with the rows they follow
    engine = create_engine(
        settings.resolved_database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
    )
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    # The front door's own small pool: acknowledging a message never queues behind turns.
    front_engine = create_engine(settings.resolved_database_url, pool_size=settings.front_pool_size)
    embeddings = build_embeddings(settings)
    model = chat_model if chat_model is not None else build_chat_model(settings)
    model_name = (
        (settings.llm_model or type(model).__name__) if model is not None else OFFLINE_MODEL_NAME
    )
    deps = AgentDeps(
        settings=settings,
        sessions=sessions,
        knowledge=KnowledgeBase(
            sessions,
            KnowledgeIndex(settings, embeddings),
            embeddings,
            # Signals fused by rank, chosen on the dev part of the data (docs/retrieval.md).
            signals=settings.retrieval_signals,
            fusion=settings.retrieval_fusion,
            rrf_k=settings.retrieval_rrf_k,
            # The index's own deadline and circuit (docs/retrieval.md, "When the index does
            # not answer"); real time, not the turn's clock: they measure a server.
            search_timeout=settings.retrieval_timeout_seconds,
            breaker=CircuitBreaker(
                settings.index_breaker_failure_threshold,
                timedelta(seconds=settings.index_breaker_cooldown_seconds),
                utc_now,
            ),
        ),
        embeddings=embeddings,
        intents=_intent_detector(embeddings),
        chat_model=model,
        model_name=model_name,
        clock=clock,
        write_gate=WriteGate(enabled=settings.resolved_database_url.startswith("sqlite")),
        front_sessions=async_sessionmaker(front_engine, expire_on_commit=False),
    )
    return Service(settings=settings, engine=engine, deps=deps, front_engine=front_engine)

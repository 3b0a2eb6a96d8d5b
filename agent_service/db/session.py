"""The async engine and session factory; SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from agent_service.db.sqlite_connection import one_trip_connector


def create_engine(url: str, pool_size: int | None = None) -> AsyncEngine:
    """An engine tuned for concurrent turns: WAL and a busy timeout on SQLite."""
    if url.startswith("sqlite"):
        # A burst of turns queues for connections; wait rather than fail the turn. No
        # overflow: a connection opened for a moment costs a thread start and four pragmas,
        # more than waiting for one of the pool's (measured under a campaign spike).
        engine = create_async_engine(
            url,
            async_creator=one_trip_connector(make_url(url).database or "", timeout=30),
            pool_size=pool_size or 20,
            max_overflow=0,
            pool_timeout=120,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(
        url, pool_size=pool_size or 20, max_overflow=0 if pool_size else 20, pool_pre_ping=True
    )


async def open_pool(engine: AsyncEngine) -> None:
    """Open all of a fixed pool's connections now and keep them (a pool keeps what it opened).

    The front door's few connections are opened at start, not at the first spike: a database
    server shared with other services, at its connection limit by then ("too many clients"),
    would otherwise refuse the very connections that store messages."""
    async with AsyncExitStack() as stack:
        for _ in range(engine.sync_engine.pool.size()):  # type: ignore[attr-defined]
            await stack.enter_async_context(engine.connect())


SessionFactory = async_sessionmaker

"""The async engine and session factory; SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from agent_service.db.sqlite_connection import one_trip_connector


def create_engine(url: str, pool_size: int = 20, max_overflow: int = 0) -> AsyncEngine:
    """An engine tuned for concurrent turns: WAL and a busy timeout on SQLite.

    ``max_overflow`` applies to PostgreSQL only."""
    if url.startswith("sqlite"):
        # A burst of turns queues for connections; wait rather than fail the turn. No
        # overflow: a connection opened for a moment costs a thread start and four pragmas,
        # more than waiting for one of the pool's (measured under a campaign spike).
        engine = create_async_engine(
            url,
            async_creator=one_trip_connector(make_url(url).database or "", timeout=30),
            pool_size=pool_size,
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
        url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
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


def connections_per_process(url: str, pool_size: int, max_overflow: int, front: int) -> int:
    """The most database connections one process of the service opens."""
    return pool_size + front + (0 if url.startswith("sqlite") else max_overflow)


async def connection_budget_warning(url: str, needed: int) -> str | None:
    """On PostgreSQL, a warning when ``needed`` connections (every process's pools at their
    fullest) would not fit in the server's ``max_connections`` less its reserved slots and the
    connections other clients hold now; None when they fit, or on SQLite.

    Past the limit the server refuses new connections ("too many clients") and the service
    answers 503 under load, so say so at start-up, with the settings that fix it."""
    if url.startswith("sqlite"):
        return None
    from sqlalchemy import text
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            limit = int((await connection.execute(text("SHOW max_connections"))).scalar_one())
            reserved = int(
                (await connection.execute(text("SHOW superuser_reserved_connections"))).scalar_one()
            )
            in_use = int(
                (
                    await connection.execute(
                        text(
                            "SELECT count(*) FROM pg_stat_activity"
                            " WHERE backend_type = 'client backend'"
                        )
                    )
                ).scalar_one()
            )
    finally:
        await engine.dispose()
    # This check's own connection is counted in ``in_use`` and closes now.
    available = limit - reserved - max(in_use - 1, 0)
    if needed <= available:
        return None
    return (
        f"the service may open {needed} PostgreSQL connections at its busiest, but the server "
        f"allows {limit} (max_connections) less {reserved} reserved, and other clients hold "
        f"{max(in_use - 1, 0)}: {available} left. Under load the service would answer 503. "
        "Raise max_connections, or lower AGENT_SERVICE_DATABASE_POOL_SIZE, "
        "AGENT_SERVICE_DATABASE_MAX_OVERFLOW or the number of workers."
    )

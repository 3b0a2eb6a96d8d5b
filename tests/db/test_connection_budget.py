"""The database pools are sized by settings, and on PostgreSQL ``serve`` warns at start when
its processes' pools could exceed the server's ``max_connections`` (past it, the server refuses
connections and the service answers 503 under load)."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest

from agent_service.db.session import connection_budget_warning, connections_per_process
from agent_service.service import build_service
from tests.conftest import POSTGRES_URL, make_settings
from tests.processes import serve, service_env

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="AGENT_SERVICE_TEST_POSTGRES_URL is not set"
)


def test_pools_follow_the_settings(data_dir: Path) -> None:
    settings = make_settings(
        data_dir, database_pool_size=7, database_max_overflow=3, front_pool_size=2
    )
    service = build_service(settings)
    try:
        assert service.deps.sessions.kw["bind"].sync_engine.pool.size() == 7
        overflow = 0 if settings.resolved_database_url.startswith("sqlite") else 3
        assert service.deps.sessions.kw["bind"].sync_engine.pool._max_overflow == overflow
        assert service.deps.front_sessions.kw["bind"].sync_engine.pool.size() == 2
    finally:
        asyncio.run(service.deps.sessions.kw["bind"].dispose())
    assert connections_per_process("sqlite+aiosqlite:///x.db", 20, 20, 4) == 24
    assert connections_per_process("postgresql+asyncpg://h/db", 20, 20, 4) == 44


def test_sqlite_has_no_connection_limit_to_check() -> None:
    assert asyncio.run(connection_budget_warning("sqlite+aiosqlite:///x.db", 10**6)) is None


@needs_postgres
def test_postgres_budget_is_checked_against_max_connections() -> None:
    assert POSTGRES_URL is not None
    assert asyncio.run(connection_budget_warning(POSTGRES_URL, 5)) is None
    warning = asyncio.run(connection_budget_warning(POSTGRES_URL, 100_000))
    assert warning is not None
    assert "100000 PostgreSQL connections" in warning
    assert "max_connections" in warning and "AGENT_SERVICE_DATABASE_POOL_SIZE" in warning


@needs_postgres
def test_serve_warns_when_its_workers_pools_exceed_the_limit(data_dir: Path) -> None:
    with tempfile.TemporaryFile() as log:
        env = service_env(data_dir, AGENT_SERVICE_DATABASE_POOL_SIZE="5000")
        with serve(env, log=log):
            pass
        log.seek(0)
        text = log.read().decode()
    assert "PostgreSQL connections at its busiest" in text, text[-3000:]
    assert "AGENT_SERVICE_DATABASE_POOL_SIZE" in text

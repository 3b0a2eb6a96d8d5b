"""SQL on the database a test's service uses, SQLite or PostgreSQL, from the test's thread."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import make_settings


def database_url(data_dir: Path) -> str:
    """The URL the service on ``data_dir`` uses (the test's PostgreSQL copy, or SQLite)."""
    return make_settings(data_dir).resolved_database_url


def run_sql(data_dir: Path, *statements: str, **params: Any) -> list[list[tuple[Any, ...]]]:
    """Run statements in one transaction on a connection of its own; the rows of each."""

    async def run() -> list[list[tuple[Any, ...]]]:
        engine = create_async_engine(database_url(data_dir))
        try:
            async with engine.begin() as connection:
                found = []
                for statement in statements:
                    result = await connection.execute(text(statement), params)
                    found.append([tuple(r) for r in result.all()] if result.returns_rows else [])
                return found
        finally:
            await engine.dispose()

    return asyncio.run(run())


def rows(data_dir: Path, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return run_sql(data_dir, sql, **params)[0]


def is_postgres(data_dir: Path) -> bool:
    return database_url(data_dir).startswith("postgresql")

"""The one-trip SQLite connection behaves like aiosqlite's under SQLAlchemy."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent_service.db.session import create_engine


def test_reads_writes_and_rollbacks(tmp_path: Path) -> None:
    async def run() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-trip.db'}")
        sessions = async_sessionmaker(engine)
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            await connection.execute(
                text("INSERT INTO t (v) VALUES (:v)"), [{"v": "a"}, {"v": "b"}, {"v": "c"}]
            )
        with pytest.raises(RuntimeError):
            async with sessions() as session, session.begin():
                await session.execute(text("UPDATE t SET v = 'lost'"))
                raise RuntimeError("the turn failed")
        async with sessions() as session:
            result = await session.execute(text("UPDATE t SET v = 'z' WHERE v = 'c'"))
            assert result.rowcount == 1  # type: ignore[attr-defined]
            await session.commit()
            rows = (await session.execute(text("SELECT v FROM t ORDER BY id"))).all()
            assert [r.v for r in rows] == ["a", "b", "z"]
            first = (await session.execute(text("SELECT v FROM t ORDER BY id"))).first()
            assert first is not None and first.v == "a"
        await engine.dispose()

    asyncio.run(run())

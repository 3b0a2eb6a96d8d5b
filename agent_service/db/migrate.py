"""Bring the database schema to the newest Alembic revision.

Migrations run under the database's start-up lock (startup_lock.py), on the connection that
holds it, so replicas started together migrate one after the other: the first upgrades, the
others find the schema at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agent_service.db.startup_lock import startup_lock

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Run pending migrations on the given engine, holding the start-up lock."""
    async with startup_lock(engine) as connection:
        await upgrade(connection)


async def upgrade(connection: AsyncConnection) -> None:
    """Run pending migrations in one transaction on ``connection`` (its caller holds the
    start-up lock: ``Service.start`` keeps it for the seeding that follows)."""

    def _upgrade(sync_connection: object) -> None:
        config = alembic_config(str(connection.engine.url))
        config.attributes["connection"] = sync_connection
        command.upgrade(config, "head")

    async with connection.begin():
        await connection.run_sync(_upgrade)

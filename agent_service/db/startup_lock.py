"""One start-up at a time per database: replicas started together must not race each other.

A replica's start-up migrates the schema, opens the local vector index and seeds the demo
workspace: each is check-then-create, and two processes doing it at the same moment crash one
another (two ``CREATE TABLE alembic_version``; two inserts of ``ws_demo``; two Chroma set-ups on
one directory). So start-up runs under a lock every replica of the database sees; the first
replica does the work and the others, once they get the lock, find it done.

- **PostgreSQL**: a session-level advisory lock, ``pg_advisory_lock(STARTUP_LOCK_KEY)``, on one
  connection held from before the migration until seeding is done (the migration runs on that
  connection). The key is fixed: ``7018690069354739299`` (``0x6167656e74737663``, "agentsvc" in
  ASCII); an operator can see who holds it in ``pg_locks`` (``locktype = 'advisory'``,
  ``objid = 1953724003``, ``classid = 1634166126``). Advisory locks belong to one database, so
  services on other databases of the same server never wait for each other. A replica that dies
  holding it loses its session, and the lock with it.
- **SQLite**: an exclusive ``fcntl.flock`` on ``<database file>.startup-lock`` beside the
  database (in the data directory by default). Not SQLite's own ``BEGIN IMMEDIATE``: start-up is
  several transactions (Alembic commits migration by migration; seeding is three transactions
  and writes Chroma's files, whose first opening also races), and an immediate transaction
  covers one of them; it would also hold the write lock of every running replica for the whole
  start-up, where the file lock only makes start-ups wait for each other. The kernel drops the
  lock when its process dies, so no stale lock file is ever left to clean up.

Waiting is unbounded on purpose: a replica that waits is one whose database is being migrated or
seeded by another, and it could not serve before that is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

STARTUP_LOCK_KEY = 0x6167656E74737663  # "agentsvc": 7018690069354739299
FILE_LOCK_POLL_SECONDS = 0.05
WAITING = "start-up: another process is migrating or seeding this database; waiting for it"

log = logging.getLogger("agent_service")


@asynccontextmanager
async def startup_lock(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Hold the database's start-up lock; yields a connection (no transaction open) that
    stays open, and the lock held, until the block ends."""
    if engine.dialect.name == "postgresql":
        async with _advisory_lock(engine) as connection:
            yield connection
    else:
        async with _file_lock(engine.url.database or ""), engine.connect() as connection:
            yield connection


@asynccontextmanager
async def _advisory_lock(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    key = {"key": STARTUP_LOCK_KEY}
    async with engine.connect() as connection:
        if not await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
            log.info(WAITING)
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), key)
        await connection.commit()  # a session lock: it outlives the transaction
        try:
            yield connection
        finally:
            try:
                if connection.in_transaction():
                    await connection.rollback()
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                await connection.commit()
            except Exception:
                # Never hand a connection that may still hold the lock back to the pool:
                # closing its session releases every lock it has.
                log.warning("start-up lock: unlock failed; closing its connection instead")
                with contextlib.suppress(Exception):
                    await connection.invalidate()


@asynccontextmanager
async def _file_lock(database: str) -> AsyncIterator[None]:
    if database in ("", ":memory:"):  # a database no other process can open
        yield
        return
    fd = os.open(f"{database}.startup-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # Polled rather than a blocking flock in a thread: a start-up cancelled while it waits
        # leaves no thread behind that could take the lock later.
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    log.info(WAITING)
                    waited = True
                await asyncio.sleep(FILE_LOCK_POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock

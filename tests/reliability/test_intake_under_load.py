"""The front door under load, through real sockets, on SQLite and PostgreSQL: a slow database
or a busy event loop never turns a message that can be stored into a 500, a backlog of the
service's own making never into a 429, and a message that truly cannot be stored gets a 503
with Retry-After (never a silent loss).

The faults are injected into the server's own front pool: one connection, a short pool
timeout, every statement slowed (the event loop held, as by a busy machine), or an insert that
fails as a full pool does; or the rate bucket's row held by another transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import async_sessionmaker

from agent_service.db.session import create_engine
from agent_service.service import Service
from agent_service.testing.scripted_chat_model import reply
from tests.conftest import ADMIN, CHANNEL, message
from tests.reliability.database import database_url, is_postgres, rows
from tests.reliability.harness import CallbackReceiver, HeldModel, live_server, wait_until

ASYNC = {**CHANNEL, "Prefer": "respond-async"}


def held_model() -> HeldModel:
    """Turns park on the model (no CPU): the test measures the front door alone."""
    return HeldModel(reply_for=lambda messages: reply("Thanks, noted."))


def front_pool(service: Service, size: int = 1, timeout: float = 2.0) -> Any:
    """Give the service a front pool of ``size`` connections that waits ``timeout`` seconds
    for one; returns its engine (for fault hooks)."""
    engine = create_engine(service.settings.resolved_database_url, pool_size=size)
    engine.sync_engine.pool._timeout = timeout  # type: ignore[attr-defined]
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    service.deps.front_sessions = sessions
    service.deps.intake.sessions = sessions
    return engine


def set_callback(http: httpx.Client, url: str, hook: str) -> None:
    saved = http.put(
        f"{url}/v1/workspaces/current/delivery", json={"callback_url": hook}, headers=ADMIN
    )
    assert saved.status_code == 200, saved.text


def post_all(url: str, bodies: list[dict[str, Any]], spacing: float = 0.0) -> list[httpx.Response]:
    """Every body posted asynchronously, one each ``spacing`` seconds (0: all at once), over
    as many connections; the answers in order."""

    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(bodies))
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            tasks = []
            for body in bodies:
                tasks.append(
                    asyncio.create_task(client.post(f"{url}/v1/messages", json=body, headers=ASYNC))
                )
                if spacing:
                    await asyncio.sleep(spacing)
            return await asyncio.gather(*tasks)

    return asyncio.run(run())


def stored(data_dir: Path, prefix: str) -> int:
    found = rows(
        data_dir,
        "SELECT count(*) FROM messages WHERE direction = 'in' AND channel_message_id LIKE :p",
        p=f"{prefix}%",
    )
    return int(found[0][0])


def test_a_slow_front_pool_is_no_500_and_loses_nothing(data_dir: Path) -> None:
    """200 messages at once through one front connection whose every statement holds the event
    loop 20 ms and whose pool waits 2 s: one request at a time, the queue for the connection
    outgrew the pool's timeout and answered 500s."""
    model = held_model()

    def slow_front(service: Service) -> None:
        engine = front_pool(service, size=1, timeout=2.0)

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _slow(*_: Any) -> None:
            time.sleep(0.02)  # on the event loop's thread: a busy loop, as under load

    receiver = CallbackReceiver()
    with (
        receiver.running() as hook,
        live_server(
            data_dir, chat_model=model, max_concurrent_turns=1, prepare=slow_front
        ) as server,
        httpx.Client(timeout=60) as http,
    ):
        set_callback(http, server.url, hook)
        bodies = [
            message(f"hello {i}", contact=f"slow-{i}", message_id=f"slow.{i}") for i in range(200)
        ]
        answers = post_all(server.url, bodies)
        model.gate.set()
    statuses = sorted({r.status_code for r in answers})
    assert statuses == [202], [r.text for r in answers if r.status_code != 202][:3]
    assert stored(data_dir, "slow.") == 200


def test_a_message_that_cannot_be_stored_gets_503_with_retry_after(data_dir: Path) -> None:
    """The database cannot take the batch (the pool times out at its insert): every request of
    it is told to come back (503, Retry-After), nothing is half stored, and the platform's retry
    is stored once. Before: the batch was stored again one by one, and each answered 500."""
    model = held_model()
    failing = threading.Event()

    def failing_front(service: Service) -> None:
        engine = front_pool(service, size=4, timeout=30.0)

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _fail(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            if failing.is_set() and statement.lstrip().upper().startswith("INSERT INTO MESSAGES"):
                raise PoolTimeout("QueuePool limit reached, connection timed out (injected)")

    receiver = CallbackReceiver()
    with (
        receiver.running() as hook,
        live_server(data_dir, chat_model=model, prepare=failing_front) as server,
        httpx.Client(timeout=60) as http,
    ):
        set_callback(http, server.url, hook)
        bodies = [
            message(f"hi {i}", contact=f"down-{i}", message_id=f"down.{i}") for i in range(20)
        ]
        failing.set()
        refused = post_all(server.url, bodies)
        assert stored(data_dir, "down.") == 0
        failing.clear()
        retried = post_all(server.url, bodies)
        again = post_all(server.url, bodies[:3])  # a repeat of a stored message: as before
        model.gate.set()
    assert {r.status_code for r in refused} == {503}, [r.text for r in refused][:3]
    assert all(r.headers.get("Retry-After", "").isdigit() for r in refused)
    assert "nothing was stored" in refused[0].json()["detail"]
    assert {r.status_code for r in retried} == {202}
    assert {r.status_code for r in again} == {202}
    assert stored(data_dir, "down.") == 20


@contextmanager
def bucket_held(data_dir: Path, seconds: float) -> Iterator[None]:
    """Another transaction holds the workspace's rate bucket (PostgreSQL: its row; SQLite: the
    write lock) for ``seconds``: the intake's store waits, as on a slow database."""
    locked = threading.Event()

    def hold_postgres() -> None:
        import asyncpg

        async def run() -> None:
            url = database_url(data_dir).replace("+asyncpg", "")
            connection = await asyncpg.connect(url)
            try:
                async with connection.transaction():
                    await connection.execute(
                        "SELECT 1 FROM rate_buckets WHERE scope = 'workspace' FOR UPDATE"
                    )
                    locked.set()
                    await asyncio.sleep(seconds)
            finally:
                await connection.close()

        asyncio.run(run())

    def hold_sqlite() -> None:
        connection = sqlite3.connect(data_dir / "agent_service.db", isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            locked.set()
            time.sleep(seconds)
            connection.execute("COMMIT")
        finally:
            connection.close()

    thread = threading.Thread(target=hold_postgres if is_postgres(data_dir) else hold_sqlite)
    thread.start()
    try:
        wait_until(locked.is_set)
        yield
    finally:
        thread.join(timeout=seconds + 30)


def test_a_backlog_of_the_services_own_making_is_not_a_flood(data_dir: Path) -> None:
    """Messages from distinct contacts at half the workspace's rate while the store waits on the
    database: they queue, and are stored together once it answers. Charged as of their store,
    15 at once against a burst of 10 got 429s; charged as of their arrival, none is refused. A
    real flood is still refused (tests/reliability/test_scheduling.py)."""
    model = held_model()
    receiver = CallbackReceiver()
    with (
        receiver.running() as hook,
        live_server(
            data_dir, chat_model=model, workspace_rate_per_second=10, workspace_burst=10
        ) as server,
        httpx.Client(timeout=60) as http,
    ):
        set_callback(http, server.url, hook)
        first = post_all(server.url, [message("hi", contact="stall-0", message_id="stall.0")])
        assert first[0].status_code == 202, first[0].text
        bodies = [
            message(f"hi {i}", contact=f"stall-{i}", message_id=f"stall.{i}") for i in range(1, 16)
        ]
        with bucket_held(data_dir, seconds=3.5):
            answers = post_all(server.url, bodies, spacing=0.2)  # 5 a second, for 3 s
        model.gate.set()
    assert [r.status_code for r in answers] == [202] * 15, [
        r.text for r in answers if r.status_code != 202
    ][:3]
    assert stored(data_dir, "stall.") == 16

"""Replicas started together: three ``agent-service serve`` processes released at the same
moment on one empty database all come up, answer, and the demo workspace, its knowledge and its
keys exist exactly once.

Each replica imports the service first and then waits at a barrier (a file the test creates once
every replica is waiting), so the three start-ups race each other from the same instant instead
of being spread out by how long each process takes to import; what runs after the barrier is the
unmodified ``agent-service serve``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN_KEY, CHANNEL, CHANNEL_KEY, POSTGRES_URL, message
from tests.processes import REPO, free_port
from tests.reliability.harness import wait_until

REPLICAS = 3
DEMO_FAQ_ENTRIES = 4  # of the demo's FAQ: seeding all of it costs a minute of embedding
REPLY = "Thanks, a colleague will confirm the details."

# Import everything, say so, wait for the barrier, then run the real command.
BOOT = """
import os, sys, time
from pathlib import Path
import agent_service.api.main
from agent_service.cli.main import app
Path(os.environ["REPLICA_READY"]).touch()
barrier = Path(os.environ["REPLICA_BARRIER"])
while not barrier.exists():
    time.sleep(0.002)
sys.argv = ["agent-service", "serve", "--port", os.environ["REPLICA_PORT"]]
app()
"""


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _small_demo(work: Path) -> Path:
    """The demo business with the first few FAQ entries only."""
    demo = work / "demo"
    shutil.copytree(REPO / "knowledge_base" / "demo", demo)
    faq = json.loads((demo / "faq.json").read_text("utf-8"))
    (demo / "faq.json").write_text(json.dumps(faq[:DEMO_FAQ_ENTRIES]), "utf-8")
    return demo


@contextmanager
def replicas(
    work: Path, data_dirs: list[Path], model_url: str, database_url: str | None
) -> Iterator[list[Replica]]:
    """A replica per data directory (one directory may be given three times), on one
    database, released together."""
    env = {
        **os.environ,
        "AGENT_SERVICE_DEMO_DIR": str(_small_demo(work)),
        "AGENT_SERVICE_DEMO_CHANNEL_KEY": CHANNEL_KEY,
        "AGENT_SERVICE_DEMO_ADMIN_KEY": ADMIN_KEY,
        # The QA key is left unset: it is generated, and must be generated once, not per replica.
        "AGENT_SERVICE_LLM_MODEL": "fake-model",
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "not-needed",
        "AGENT_SERVICE_LLM_TIMEOUT_SECONDS": "60",
        "AGENT_SERVICE_BURST_WINDOW_SECONDS": "0",
        "REPLICA_BARRIER": str(work / "go"),
    }
    env.pop("AGENT_SERVICE_DEMO_QA_KEY", None)
    if database_url is not None:
        env["AGENT_SERVICE_DATABASE_URL"] = database_url
    started: list[Replica] = []
    try:
        for n, data_dir in enumerate(data_dirs):
            port, log = free_port(), work / f"replica-{n}.log"
            ready = {
                "AGENT_SERVICE_DATA_DIR": str(data_dir),
                "REPLICA_READY": str(work / f"ready-{n}"),
                "REPLICA_PORT": str(port),
            }
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-c", BOOT],
                    cwd=REPO,
                    env={**env, **ready},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            started.append(Replica(process, port, log))
        wait_until(
            lambda: (
                all((work / f"ready-{n}").exists() for n in range(REPLICAS))
                or any(r.process.poll() is not None for r in started)
            ),
            timeout=120,
        )
        (work / "go").touch()  # all three start up from here, at the same instant
        wait_until(
            lambda: all(r.healthy() or r.process.poll() is not None for r in started),
            timeout=240,
        )
        exited = [r for r in started if r.process.poll() is not None]
        assert not exited, "a replica exited at start:\n" + "\n".join(
            r.output()[-3000:] for r in exited
        )
        yield started
    finally:
        for r in started:
            if r.process.poll() is None:
                r.process.terminate()
        for r in started:
            try:
                r.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                r.process.kill()
                r.process.wait(timeout=10)


def _answer_through_each(started: list[Replica]) -> None:
    for n, replica in enumerate(started):
        body = message("Do you have a slot on Saturday?", contact=f"c-replica-{n}")
        response = httpx.post(f"{replica.url}/v1/messages", json=body, headers=CHANNEL, timeout=60)
        assert response.status_code == 200, response.text
        assert response.json()["reply"]["text"] == REPLY


def _assert_demo_once(rows: Any, started: list[Replica]) -> None:
    """``rows(sql)`` reads the replicas' database."""
    assert rows("select id from workspaces") == [("ws_demo",)]
    keys = rows("select roles from api_keys where workspace_id = 'ws_demo'")
    roles = sorted(json.loads(r[0]) if isinstance(r[0], str) else r[0] for r in keys)
    assert roles == [["admin"], ["channel"], ["qa"]]  # one key per role, none duplicated
    assert rows("select count(*) from knowledge_entries") == [(DEMO_FAQ_ENTRIES,)]
    printed = [r for r in started if "demo workspace ws_demo: qa key" in r.output()]
    assert len(printed) == 1  # one replica generated the QA key and printed it
    # The start-ups did overlap: at least one replica found another one starting and waited.
    assert any("another process is migrating or seeding" in r.output() for r in started)


def _run(*statements: str, database: str = "postgres") -> list[list[tuple[Any, ...]]]:
    import asyncpg

    async def run() -> list[list[tuple[Any, ...]]]:
        assert POSTGRES_URL is not None
        base = POSTGRES_URL.replace("+asyncpg", "").rsplit("/", 1)[0]
        connection = await asyncpg.connect(f"{base}/{database}")
        try:
            return [[tuple(r) for r in await connection.fetch(s)] for s in statements]
        finally:
            await connection.close()

    return asyncio.run(run())


@contextmanager
def _fresh_database() -> Iterator[str]:
    """A uniquely named empty PostgreSQL database, dropped afterwards."""
    name = f"agent_service_replicas_{uuid.uuid4().hex[:12]}"
    _run(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        _run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(url: str) -> None:
    from agent_service.db.migrate import upgrade_to_head
    from agent_service.db.session import create_engine

    async def run() -> None:
        engine = create_engine(url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())


needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL, reason="set AGENT_SERVICE_TEST_POSTGRES_URL to run against PostgreSQL"
)


@needs_postgres
@pytest.mark.parametrize("migrated", [False, True], ids=["empty", "migrated-empty"])
def test_three_replicas_started_together_on_postgresql_all_come_up(
    tmp_path: Path, migrated: bool
) -> None:
    assert POSTGRES_URL is not None
    with _fresh_database() as name, FakeOpenAIServer() as model:
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        if migrated:
            _migrate(url)
            assert _run("select count(*) from workspaces", database=name) == [[(0,)]]
        model.default = {"message": completion(REPLY)}
        # Replicas on separate hosts: only the database is shared.
        data_dirs = [tmp_path / f"data-{n}" for n in range(REPLICAS)]
        with replicas(tmp_path, data_dirs, model.url, url) as started:
            _answer_through_each(started)
        _assert_demo_once(lambda sql: _run(sql, database=name)[0], started)


def test_three_replicas_started_together_on_one_sqlite_data_dir_all_come_up(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with FakeOpenAIServer() as model:
        model.default = {"message": completion(REPLY)}
        with replicas(tmp_path, [data_dir] * REPLICAS, model.url, None) as started:
            _answer_through_each(started)

    def rows(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(data_dir / "agent_service.db") as connection:
            return connection.execute(sql).fetchall()

    _assert_demo_once(rows, started)

"""A Chroma server that stalls (SIGSTOP) or dies (SIGKILL) under a live service.

The vector index has its own deadline and circuit breaker: a synchronous turn answers within
the deadline from the entries' signals stored in the database, records why in the response and
the turn, and the next turns do not wait at all. Knowledge written while the index is down is
stored (the database is the truth) and reaches the index once it is back, without a restart.

A real ``chroma run`` process on a real port; the service under uvicorn on a real socket.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agent_service.core.config import Settings
from tests.conftest import ADMIN, CHANNEL, make_settings, message
from tests.processes import free_port
from tests.reliability.harness import LiveServer, live_server, wait_until

# The CLI the installed chromadb ships, beside this interpreter (or on the PATH).
_BESIDE = Path(sys.executable).parent / "chroma"
CHROMA = str(_BESIDE) if _BESIDE.exists() else shutil.which("chroma")
pytestmark = pytest.mark.skipif(CHROMA is None, reason="the chroma CLI is not installed")

DEADLINE = 2.0  # retrieval_timeout_seconds for these tests
MARGIN = 4.0  # the rest of a turn on a loaded 2-core machine (it takes well under 1 s alone)
COOLDOWN = 3.0
QUESTION = "How much does a facial cost at Lotus?"
ANSWER_PART = "RM 150"  # from the demo FAQ's answer to QUESTION
NEW_ENTRY = {
    "question": "Do you have a car park at the Bangsar branch?",
    "answer": "Yes: 20 free parking bays behind the Bangsar branch, ask reception for a token.",
    "language": "en",
}


class ChromaServer:
    """``chroma run`` on a fixed path and port, which can be stopped, continued, killed and
    started again on the same data."""

    def __init__(self, path: Path, port: int) -> None:
        self.path, self.port = path, port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert CHROMA is not None
        self.process = subprocess.Popen(
            [
                CHROMA,
                "run",
                "--path",
                str(self.path),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.alive, timeout=120)

    def alive(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/api/v2/heartbeat"
            return httpx.get(url, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)  # a stopped process cannot be reaped
        self.process.kill()
        self.process.wait(timeout=30)

    def ids(self, workspace_id: str) -> set[str]:
        """The entry ids the server holds for the workspace (read through its REST API)."""
        base = (
            f"http://127.0.0.1:{self.port}/api/v2/tenants/default_tenant/databases/default_database"
        )
        with httpx.Client(timeout=10) as http:
            collection = http.get(f"{base}/collections/kb_{workspace_id}")
            if collection.status_code != 200:
                return set()
            got = http.post(
                f"{base}/collections/{collection.json()['id']}/get", json={"include": []}
            )
            return set(got.json()["ids"])


@contextmanager
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma-server", free_port())
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill()


@contextmanager
def service_on(chroma: ChromaServer, data_dir: Path) -> Iterator[LiveServer]:
    """The service pointed at the Chroma server; the demo knowledge indexed there."""
    with live_server(
        data_dir,
        chroma_host="127.0.0.1",
        chroma_port=chroma.port,
        retrieval_timeout_seconds=DEADLINE,
        chroma_timeout_seconds=5.0,
        index_breaker_failure_threshold=2,
        index_breaker_cooldown_seconds=COOLDOWN,
        index_sync_seconds=0.5,
        contact_rate_per_second=50.0,
    ) as server:
        reindexed = httpx.post(f"{server.url}/v1/knowledge/reindex", headers=ADMIN, timeout=300)
        assert reindexed.status_code == 200, reindexed.text
        yield server


def ask(server: LiveServer, question: str, contact: str) -> tuple[dict[str, Any], float]:
    """A synchronous message; its response and how long it took."""
    started = time.monotonic()
    with httpx.Client(timeout=60) as http:
        response = http.post(
            f"{server.url}/v1/messages", json=message(question, contact=contact), headers=CHANNEL
        )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    return response.json(), elapsed


def stored_turn(settings: Settings, turn_id: str) -> tuple[str | None, str | None]:
    """The turn's recorded retrieval status and error, read from the database itself."""

    async def read() -> tuple[str | None, str | None]:
        engine = create_async_engine(settings.resolved_database_url)
        try:
            async with engine.connect() as connection:
                row = (
                    await connection.execute(
                        text("select retrieval, error from turns where id = :id"), {"id": turn_id}
                    )
                ).one()
                return row[0], row[1]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def index_pending(settings: Settings) -> str | None:
    async def read() -> str | None:
        engine = create_async_engine(settings.resolved_database_url)
        try:
            async with engine.connect() as connection:
                return (
                    await connection.execute(
                        text("select index_pending from workspaces where id = 'ws_demo'")
                    )
                ).scalar()
        finally:
            await engine.dispose()

    return asyncio.run(read())


def ok_again(server: LiveServer, question: str, contacts: Iterator[str]) -> dict[str, Any]:
    """Ask until the index answers a turn again (after the breaker's cooldown); that body."""
    answered: list[dict[str, Any]] = []

    def index_answered() -> bool:
        body, _ = ask(server, question, next(contacts))
        answered.append(body)
        return bool(body["retrieval"]["status"] == "ok")

    wait_until(index_answered, timeout=60)
    return answered[-1]


def contacts(prefix: str) -> Iterator[str]:
    n = 0
    while True:
        n += 1
        yield f"{prefix}-{n}"


def test_a_stalled_index_costs_a_turn_its_deadline_at_most_then_nothing(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(data_dir)
    with chroma_server(tmp_path) as chroma, service_on(chroma, data_dir) as server:
        who = contacts("c-stall")
        before, _ = ask(server, QUESTION, next(who))
        assert ANSWER_PART in before["reply"]["text"]

        chroma.signal(signal.SIGSTOP)
        try:
            # Two turns reach the deadline (the breaker's threshold), answered from the
            # database's signals: the right answer, within the deadline.
            for _ in range(2):
                body, elapsed = ask(server, QUESTION, next(who))
                assert elapsed < DEADLINE + MARGIN, elapsed
                assert body["retrieval"]["status"] == "timeout"
                assert body["retrieval"]["source"] == "database"
                assert ANSWER_PART in body["reply"]["text"]
                status, error = stored_turn(settings, body["turn_id"])
                assert status == "timeout" and "retrieval timeout" in (error or "")
            # The circuit is open: the next turn does not wait for the index at all.
            body, elapsed = ask(server, QUESTION, next(who))
            assert body["retrieval"]["status"] == "circuit_open"
            assert elapsed < DEADLINE, elapsed
            assert ANSWER_PART in body["reply"]["text"]
            assert stored_turn(settings, body["turn_id"])[0] == "circuit_open"
        finally:
            chroma.signal(signal.SIGCONT)

        again = ok_again(server, QUESTION, who)
        assert again["retrieval"]["source"] == "index"
        assert ANSWER_PART in again["reply"]["text"]
        assert before.get("retrieval") == {"status": "ok", "source": "index", "detail": None}


def test_knowledge_written_while_the_index_is_down_reaches_it_when_it_is_back(
    data_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(data_dir)
    with chroma_server(tmp_path) as chroma, service_on(chroma, data_dir) as server:
        who = contacts("c-down")
        chroma.kill()

        first, elapsed = ask(server, QUESTION, next(who))
        assert elapsed < DEADLINE + MARGIN, elapsed
        assert first["retrieval"]["status"] == "unavailable"
        assert first["retrieval"]["source"] == "database"
        assert ANSWER_PART in first["reply"]["text"]
        assert stored_turn(settings, first["turn_id"])[0] == "unavailable"

        # An admin adds knowledge while the index is down: stored, not refused.
        with httpx.Client(timeout=60) as http:
            created = http.post(f"{server.url}/v1/knowledge/entries", json=NEW_ENTRY, headers=ADMIN)
        assert created.status_code == 201, created.text
        entry_id = created.json()["id"]
        assert index_pending(settings) is not None

        # Answered from the database at once, the new entry included; the circuit is open
        # (the failed message and the write were its two failures).
        body, elapsed = ask(server, NEW_ENTRY["question"], next(who))
        assert body["retrieval"]["status"] == "circuit_open"
        assert "parking bays" in body["reply"]["text"]
        assert elapsed < DEADLINE + MARGIN

        # Chroma back on the same data and port: the entry reaches it without a restart.
        chroma.start()
        wait_until(lambda: entry_id in chroma.ids("ws_demo"), timeout=60)
        wait_until(lambda: index_pending(settings) is None, timeout=30)
        again = ok_again(server, NEW_ENTRY["question"], who)
        assert again["retrieval"]["source"] == "index"
        assert "parking bays" in again["reply"]["text"]

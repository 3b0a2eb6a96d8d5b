"""A busy replica keeps its leases: no other replica adopts the contacts whose turns it has
not reached yet, and every message costs one model call (issue 14).

Two `agent-service serve` replicas on one PostgreSQL database (skipped unless
AGENT_SERVICE_TEST_POSTGRES_URL is set: the scenario needs two processes sharing leases, which
the suite runs on PostgreSQL). Every message goes to the first replica; the second only sweeps.
The test makes the first one's turns slow the way a spike does: while it holds the ``turns``
table locked (SHARE: reads go on, a turn's save waits), each turn that reached its save keeps
its connection, the replica's pool runs dry and the turns behind wait for a connection far
longer than a lease. Before this was fixed the lease renewal queued for a connection behind
those turns, the leases expired, the second replica adopted the waiting contacts and called
the model for them, and the first called it again once it got its connection: 70 messages took
about 100 model calls. Now the renewal has connections turns never hold, skips the rows a save
has locked (another replica cannot take them before that save ends either), and a turn calls
the model only under a lease that is still its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN, CHANNEL, POSTGRES_URL, message
from tests.processes import free_port, serve, service_env
from tests.reliability.database import database_url, rows
from tests.reliability.harness import CallbackReceiver, wait_until

LEASE_SECONDS = 5.0
MESSAGES = 70  # more turns than one replica's 40 database connections
ASYNC = {**CHANNEL, "Prefer": "respond-async"}
ANSWERED = "select count(*) from messages where direction = 'in' and status = 'processed'"

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="AGENT_SERVICE_TEST_POSTGRES_URL is not set"
)


@contextmanager
def replica(data_dir: Path, model_url: str, port: int, log: Path) -> Iterator[None]:
    env = service_env(
        data_dir,
        AGENT_SERVICE_LLM_MODEL="fake-model",
        OPENAI_BASE_URL=model_url,
        OPENAI_API_KEY="not-needed",
        AGENT_SERVICE_LLM_TIMEOUT_SECONDS="90",
        AGENT_SERVICE_TURN_DEADLINE_SECONDS="90",
        AGENT_SERVICE_CALLBACK_POLL_SECONDS="0.1",
        AGENT_SERVICE_TURN_LEASE_SECONDS=str(LEASE_SECONDS),
        AGENT_SERVICE_UNANSWERED_SWEEP_SECONDS="0.25",
        AGENT_SERVICE_FOLLOWUP_POLL_SECONDS="0",
        AGENT_SERVICE_CONTACT_BURST="100",
    )
    with log.open("wb") as out, serve(env, port, timeout=240, log=out):
        yield


@contextmanager
def turns_locked(data_dir: Path) -> Iterator[None]:
    """``LOCK TABLE turns IN SHARE MODE`` on a connection of its own, held until the block
    ends: reads of ``turns`` go on, every turn's save waits (holding its connection)."""
    import asyncpg

    url = database_url(data_dir).replace("+asyncpg", "")
    locked, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    async def hold() -> None:
        connection = await asyncpg.connect(url)
        try:
            async with connection.transaction():
                await connection.execute("LOCK TABLE turns IN SHARE MODE")
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await connection.close()

    def run() -> None:
        try:
            asyncio.run(hold())
        except BaseException as error:  # reported to the test's thread
            failed.append(error)
            locked.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert locked.wait(30) and not failed, failed
    try:
        yield
    finally:
        release.set()
        thread.join(30)
    assert not failed, failed


def test_a_replica_whose_turns_wait_keeps_its_leases_and_calls_the_model_once_a_message(
    data_dir: Path, tmp_path: Path
) -> None:
    receiver = CallbackReceiver()
    bodies = [
        message(f"How much is the facial, option {i}?", contact=f"c-busy-{i}")
        for i in range(MESSAGES)
    ]
    with FakeOpenAIServer() as model, receiver.running() as hook:
        model.default = {"delay": 0.2, "message": completion("The facial is 600,000 VND.")}
        busy_port, idle_port = free_port(), free_port()
        busy = f"http://127.0.0.1:{busy_port}"
        with (
            replica(data_dir, model.url, busy_port, tmp_path / "busy.log"),
            replica(data_dir, model.url, idle_port, tmp_path / "idle.log"),
            httpx.Client(timeout=60) as http,
        ):
            change = {"callback_url": hook, "callback_secret": "callback-secret-0123456789"}
            put = http.put(f"{busy}/v1/workspaces/current/delivery", json=change, headers=ADMIN)
            assert put.status_code == 200, put.text

            with turns_locked(data_dir):

                def post(body: dict[str, object]) -> int:
                    with httpx.Client(timeout=60) as own:  # a connection each
                        return own.post(f"{busy}/v1/messages", json=body, headers=ASYNC).status_code

                with ThreadPoolExecutor(16) as pool:
                    assert set(pool.map(post, bodies)) == {202}
                # The turns that reached their save wait there, their connections held; the
                # others wait for a connection. Three lease lengths of that (within the
                # pool's 30 s timeout).
                wait_until(lambda: len(model.requests) >= 20, timeout=120)
                time.sleep(3 * LEASE_SECONDS)
                saved_while_locked = rows(data_dir, ANSWERED)

            wait_until(lambda: rows(data_dir, ANSWERED) == [(MESSAGES,)], timeout=180)
            wait_until(lambda: len(receiver.delivered()) >= MESSAGES, timeout=60)
            time.sleep(2 * LEASE_SECONDS)  # room for a late adoption or a second call to show
            calls = len(model.requests)

    assert saved_while_locked == [(0,)], "the lock did not hold the turns back"
    assert calls == MESSAGES, f"{calls} model calls for {MESSAGES} messages"
    assert rows(data_dir, "select count(*) from turns") == [(MESSAGES,)]
    assert rows(data_dir, "select count(*) from messages where direction = 'out'") == [(MESSAGES,)]
    called_back = Counter(d["response"]["message_id"] for d in receiver.delivered())
    assert sorted(called_back) == sorted(b["message_id"] for b in bodies)
    assert set(called_back.values()) == {1}

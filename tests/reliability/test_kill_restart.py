"""kill -9 mid-turn, restart: the message is answered exactly once and nothing is half-applied."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests import processes
from tests.conftest import ADMIN, CHANNEL, message
from tests.processes import free_port, service_env
from tests.reliability.harness import CallbackReceiver, wait_until


@contextmanager
def serve(data_dir: Path, model_url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``agent-service serve`` as its own process (this checkout's code), on the fake model
    and the test's SQLite file (the test reads it after the kill)."""
    env = service_env(
        data_dir,
        AGENT_SERVICE_DATABASE_URL=f"sqlite+aiosqlite:///{data_dir / 'agent_service.db'}",
        AGENT_SERVICE_LLM_MODEL="fake-model",
        OPENAI_BASE_URL=model_url,
        OPENAI_API_KEY="not-needed",
        AGENT_SERVICE_LLM_TIMEOUT_SECONDS="60",
        AGENT_SERVICE_CALLBACK_POLL_SECONDS="0.1",
    )
    with processes.serve(env, port, timeout=120) as served:
        yield served.process


def test_a_message_caught_mid_turn_by_kill_9_is_answered_once_after_restart(
    data_dir: Path,
) -> None:
    receiver = CallbackReceiver()
    body = message("How much is the facial?", contact="c-killed")
    with FakeOpenAIServer() as model, receiver.running() as hook:
        model.push({"delay": 20, "message": completion("never sent: the process dies first")})
        model.default = {"message": completion("The facial is 600,000 VND.")}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with serve(data_dir, model.url, port) as process:
            change = {"callback_url": hook, "callback_secret": "callback-secret-0123456789"}
            http = httpx.Client(timeout=30)
            http.put(f"{url}/v1/workspaces/current/delivery", json=change, headers=ADMIN)
            ack = http.post(
                f"{url}/v1/messages", json=body, headers={**CHANNEL, "Prefer": "respond-async"}
            )
            assert ack.status_code == 202
            wait_until(lambda: len(model.requests) == 1)  # mid-turn: the model has the prompt
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        db = Path(data_dir) / "agent_service.db"
        assert _rows(db, "select status from messages") == [("received",)]
        assert _rows(db, "select count(*) from turns") == [(0,)]

        with serve(data_dir, model.url, port):
            wait_until(lambda: len(receiver.received) >= 1, timeout=60)
            contact = httpx.get(f"{url}/v1/contacts/c-killed", headers=CHANNEL).json()
        assert len(model.requests) == 2  # the killed call, and one after the restart
    assert len(receiver.received) == 1
    assert _rows(db, "select direction, status from messages order by direction") == [
        ("in", "processed"),
        ("out", "processed"),
    ]
    assert _rows(db, "select count(*) from turns") == [(1,)]
    assert _rows(db, "select text from messages where direction = 'out'") == [
        ("The facial is 600,000 VND.",)
    ]
    assert contact["lifecycle_stage"] == "New Lead"


def _rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()

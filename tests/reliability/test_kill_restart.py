"""kill -9 mid-turn, restart: the message is answered exactly once and nothing is half-applied."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN, ADMIN_KEY, CHANNEL, CHANNEL_KEY, QA_KEY, message
from tests.reliability.harness import CallbackReceiver, wait_until

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(data_dir: Path, model_url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``agent-service serve`` as its own process (this checkout's code), on the fake model."""
    env = {
        **os.environ,
        "AGENT_SERVICE_DATA_DIR": str(data_dir),
        "AGENT_SERVICE_DEMO_CHANNEL_KEY": CHANNEL_KEY,
        "AGENT_SERVICE_DEMO_ADMIN_KEY": ADMIN_KEY,
        "AGENT_SERVICE_DEMO_QA_KEY": QA_KEY,
        "AGENT_SERVICE_LLM_MODEL": "fake-model",
        "OPENAI_BASE_URL": model_url,
        "OPENAI_API_KEY": "not-needed",
        "AGENT_SERVICE_LLM_TIMEOUT_SECONDS": "60",
        "AGENT_SERVICE_BURST_WINDOW_SECONDS": "0",
        "AGENT_SERVICE_CALLBACK_POLL_SECONDS": "0.1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from agent_service.cli.main import app; app()",
            "serve",
            "--port",
            str(port),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _healthy(port) or process.poll() is not None, timeout=120)
        assert process.poll() is None, "the service did not start"
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


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

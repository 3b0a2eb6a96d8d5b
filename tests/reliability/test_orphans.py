"""Two `agent-service serve` replicas on one database; the one answering a message dies
(kill -9) mid-turn. The survivor adopts the message within seconds, once its lease expired,
with one model call; the message is answered once. A repeat delivery that reaches the survivor
meanwhile gets 503 with Retry-After, never a 500, and never starts a turn of its own.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN, CHANNEL, message
from tests.processes import free_port, serve, service_env
from tests.reliability.database import rows
from tests.reliability.harness import CallbackReceiver, wait_until

LEASE_SECONDS = 3.0


@contextmanager
def replica(data_dir: Path, model_url: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """One ``agent-service serve`` process (this checkout's code) on the test's database."""
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
        AGENT_SERVICE_DUPLICATE_WAIT_SECONDS="1",
        AGENT_SERVICE_FOLLOWUP_POLL_SECONDS="0",
    )
    with serve(env, port, timeout=180) as served:
        yield served.process


def test_a_message_orphaned_by_a_dead_replica_is_adopted_by_the_other_within_seconds(
    data_dir: Path,
) -> None:
    receiver = CallbackReceiver()
    body = message("How much is the facial?", contact="c-orphan")
    answer = "The facial is 600,000 VND."
    inbound = "select status from messages where direction = 'in'"
    with FakeOpenAIServer() as model, receiver.running() as hook:
        model.push({"delay": 60, "message": completion("never sent: its replica dies first")})
        model.default = {"message": completion(answer)}
        first_port, second_port = free_port(), free_port()
        first_url, second_url = (f"http://127.0.0.1:{p}" for p in (first_port, second_port))
        with (
            replica(data_dir, model.url, first_port) as first,
            replica(data_dir, model.url, second_port),
            httpx.Client(timeout=60) as http,
        ):
            change = {"callback_url": hook, "callback_secret": "callback-secret-0123456789"}
            assert (
                http.put(
                    f"{first_url}/v1/workspaces/current/delivery", json=change, headers=ADMIN
                ).status_code
                == 200
            )
            ack = http.post(
                f"{first_url}/v1/messages",
                json=body,
                headers={**CHANNEL, "Prefer": "respond-async"},
            )
            assert ack.status_code == 202, ack.text
            wait_until(lambda: len(model.requests) == 1, timeout=60)  # the first is mid-turn

            # In flight on the first replica: the second neither answers nor starts a turn.
            repeat = http.post(f"{second_url}/v1/messages", json=body, headers=CHANNEL)
            assert repeat.status_code == 503, repeat.text
            assert int(repeat.headers["Retry-After"]) > 0
            time.sleep(2 * LEASE_SECONDS)  # two lease lengths: renewed, never expired
            assert len(model.requests) == 1
            assert rows(data_dir, inbound) == [("received",)]

            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            died = time.monotonic()
            # Orphaned, its lease not yet expired: still a 503 with Retry-After, not a 500.
            orphaned = http.post(f"{second_url}/v1/messages", json=body, headers=CHANNEL)
            assert orphaned.status_code in (200, 503), orphaned.text
            if orphaned.status_code == 503:
                assert int(orphaned.headers["Retry-After"]) > 0

            wait_until(lambda: rows(data_dir, inbound) == [("processed",)], timeout=30)
            adopted_after = time.monotonic() - died
            wait_until(lambda: len(receiver.received) >= 1, timeout=30)
            stored = http.post(f"{second_url}/v1/messages", json=body, headers=CHANNEL)
            time.sleep(LEASE_SECONDS)  # room for any second adoption to show itself
        assert adopted_after < LEASE_SECONDS + 5, adopted_after
        assert len(model.requests) == 2  # the dead replica's call, and the survivor's one
    assert stored.status_code == 200 and stored.json()["reply"]["text"] == answer
    assert len(receiver.received) == 1
    assert receiver.delivered()[0]["response"]["reply"]["text"] == answer
    assert rows(data_dir, "select count(*) from turns") == [(1,)]
    assert rows(data_dir, "select text from messages where direction = 'out'") == [(answer,)]

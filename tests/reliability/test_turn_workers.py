"""`agent-service serve --turn-workers 1`: the HTTP process stores and acknowledges, a turn
worker of its own (no HTTP) answers, and the delivery promises hold across the two.

A real ``serve`` process (which starts the turn worker as a child) on the fake OpenAI server,
each contact's messages marked so the model's requests say which message each turn answered.
SQLite, or PostgreSQL (a database of its own) when AGENT_SERVICE_TEST_POSTGRES_URL is set:

- messages of several contacts, posted asynchronously, are each answered exactly once (one
  model call each, one callback each) and each contact's in the order sent;
- with the turn worker stopped (SIGSTOP), the HTTP process still acknowledges and stores and
  answers none; killed, `serve` starts another, which answers each of them once;
- a contact's burst (messages a second apart, window 2 s) stored by the HTTP process is
  answered by the turn worker with one turn: the window holds though the worker stored none.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN, CHANNEL, POSTGRES_URL, message
from tests.processes import Served, serve, service_env
from tests.reliability.database import rows
from tests.reliability.harness import CallbackReceiver, wait_until
from tests.reliability.test_workers import children_of, command_of, worker_processes

MARK = re.compile(r"\[(c-[a-z0-9-]+) #(\d+)\]")
START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> str:
    if (request.param == "postgresql") != bool(POSTGRES_URL):
        pytest.skip("SQLite without AGENT_SERVICE_TEST_POSTGRES_URL, PostgreSQL with it")
    return str(request.param)


@dataclass
class Split:
    served: Served
    model: FakeOpenAIServer
    receiver: CallbackReceiver
    log: Path
    http: httpx.Client

    def post(self, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(
            f"{self.served.url}/v1/messages",
            json=body,
            headers={**CHANNEL, "Prefer": "respond-async"},
        )

    def turn_workers(self) -> set[int]:
        return {p for p in children_of(self.served.process.pid) if "app() turns" in command_of(p)}

    def answered(self) -> list[tuple[str, int]]:
        """(contact, number) of the message each model request answered, in request order
        (a burst's turn names every message it answers)."""
        found = []
        for request in self.model.requests:
            last_user = [m for m in request["messages"] if m.get("role") == "user"][-1]
            content = last_user["content"]
            text = content if isinstance(content, str) else json.dumps(content)
            found.extend((c, int(n)) for c, n in MARK.findall(text))
        return found

    def callbacks(self) -> list[dict[str, Any]]:
        return [c["response"] for c in self.receiver.delivered()]


@contextmanager
def split_service(data_dir: Path, tmp_path: Path, **settings: str) -> Iterator[Split]:
    receiver = CallbackReceiver()
    log = tmp_path / "serve.log"
    with FakeOpenAIServer() as model, receiver.running() as hook:
        model.default = {"message": completion("Noted, thank you.")}
        env = service_env(
            data_dir,
            AGENT_SERVICE_LLM_MODEL="fake-model",
            OPENAI_BASE_URL=model.url,
            OPENAI_API_KEY="not-needed",
            AGENT_SERVICE_CALLBACK_POLL_SECONDS="0.2",
            AGENT_SERVICE_FOLLOWUP_POLL_SECONDS="0",
            **settings,
        )
        env.pop("AGENT_SERVICE_CHROMA_HOST", None)
        with (
            log.open("wb") as out,
            serve(env, log=out, timeout=400, args=["--turn-workers", "1"]) as served,
            httpx.Client(timeout=60) as http,
        ):
            split = Split(served, model, receiver, log, http)
            wait_until(lambda: len(split.turn_workers()) == 1, timeout=60)
            wait_until(lambda: "turn worker started" in log.read_text(errors="replace"), 400)
            change = {"callback_url": hook, "callback_secret": "callback-secret-0123456789"}
            response = http.put(
                f"{served.url}/v1/workspaces/current/delivery", json=change, headers=ADMIN
            )
            assert response.status_code == 200, response.text
            yield split


def marked(contact: str, number: int, sent_at: datetime) -> dict[str, Any]:
    return message(
        f"[{contact} #{number}] How much is a facial?",
        contact=contact,
        message_id=f"wamid.{contact}.{number}",
        sent_at=sent_at.isoformat().replace("+00:00", "Z"),
    )


def test_each_message_is_answered_once_in_order_by_the_turn_worker(
    database: str, data_dir: Path, tmp_path: Path
) -> None:
    contacts, per_contact = [f"c-split-{i}" for i in range(4)], 3
    with split_service(data_dir, tmp_path) as split:
        http_pids = worker_processes(split.served.process.pid)
        (turn_pid,) = split.turn_workers()

        def send_all(contact: str) -> list[int]:
            return [
                split.post(marked(contact, n, START + timedelta(seconds=n))).status_code
                for n in range(1, per_contact + 1)
            ]

        with ThreadPoolExecutor(len(contacts)) as pool:
            statuses = [s for sent in pool.map(send_all, contacts) for s in sent]
        assert statuses == [202] * len(contacts) * per_contact
        total = len(contacts) * per_contact
        wait_until(lambda: len(split.callbacks()) >= total, timeout=120)

        answered = split.answered()
        assert sorted(answered) == sorted((c, n) for c in contacts for n in range(1, 4))
        for contact in contacts:  # one contact's turns in the order its messages were sent
            assert [n for c, n in answered if c == contact] == [1, 2, 3]
        assert len(split.model.requests) == total
        callbacks = split.callbacks()
        assert len(callbacks) == total
        assert sorted(c["message_id"] for c in callbacks) == sorted(
            f"wamid.{c}.{n}" for c in contacts for n in range(1, 4)
        )
        assert {c["status"] for c in callbacks} == {"replied"}
        assert rows(data_dir, "select count(*) from turns") == [(total,)]
        # The answers came from the turn worker: the HTTP worker logged no turn.
        turn_pids = {
            int(entry["pid"])
            for line in split.log.read_text(errors="replace").splitlines()
            if line.startswith("{")
            for entry in [json.loads(line)]
            if entry.get("event") == "turn"
        }
        assert turn_pids == {turn_pid}, (turn_pids, http_pids)
        assert os.getpriority(os.PRIO_PROCESS, turn_pid) > os.getpriority(
            os.PRIO_PROCESS, next(iter(http_pids))
        )


def test_the_http_process_alone_stores_and_answers_none_until_a_turn_worker_runs(
    database: str, data_dir: Path, tmp_path: Path
) -> None:
    contacts = [f"c-alone-{i}" for i in range(5)]
    with split_service(data_dir, tmp_path) as split:
        (stopped,) = split.turn_workers()
        os.kill(stopped, signal.SIGSTOP)
        try:
            for contact in contacts:
                response = split.post(marked(contact, 1, START))
                assert response.status_code == 202, response.text
            stored = rows(
                data_dir,
                "select count(*) from messages where direction = 'in' and status = 'received'",
            )
            assert stored == [(len(contacts),)]
            # Nobody else answers them: the HTTP process runs no turns.
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                assert split.model.requests == []
                assert rows(data_dir, "select count(*) from turns") == [(0,)]
                time.sleep(0.2)
        finally:
            os.kill(stopped, signal.SIGKILL)
            os.kill(stopped, signal.SIGCONT)
        wait_until(lambda: split.turn_workers() - {stopped} != set(), timeout=60)
        wait_until(lambda: len(split.callbacks()) >= len(contacts), timeout=400)
        assert sorted(split.answered()) == [(c, 1) for c in sorted(contacts)]
        assert sorted(c["message_id"] for c in split.callbacks()) == sorted(
            f"wamid.{c}.1" for c in contacts
        )
        assert rows(data_dir, "select count(*) from turns") == [(len(contacts),)]
        assert rows(
            data_dir, "select count(*) from messages where direction = 'in' and status = 'received'"
        ) == [(0,)]


def test_a_burst_stored_by_the_http_process_is_answered_with_one_turn(
    database: str, data_dir: Path, tmp_path: Path
) -> None:
    contact = "c-burst"
    with split_service(
        data_dir,
        tmp_path,
        AGENT_SERVICE_BURST_WINDOW_SECONDS="2",
        AGENT_SERVICE_BURST_MAX_WAIT_SECONDS="10",
    ) as split:
        now = datetime.now(UTC)
        for n in range(1, 4):
            response = split.post(marked(contact, n, now + timedelta(seconds=n)))
            assert response.status_code == 202, response.text
            if n < 3:
                # The turn worker has seen the contact and waits out the window meanwhile.
                time.sleep(1.0)
        wait_until(lambda: len(split.callbacks()) >= 3, timeout=120)
        assert len(split.model.requests) == 1
        assert split.answered() == [(contact, 1), (contact, 2), (contact, 3)]
        by_id = {c["message_id"]: c for c in split.callbacks()}
        last = f"wamid.{contact}.3"
        assert by_id[last]["status"] == "replied"
        for n in (1, 2):
            merged = by_id[f"wamid.{contact}.{n}"]
            assert merged["status"] == "merged" and merged["answered_by"] == last

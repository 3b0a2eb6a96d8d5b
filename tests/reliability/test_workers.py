"""`agent-service serve --workers 2`: two processes behind one port, and the guarantees hold
across them.

One real ``serve --workers 2`` (SQLite: one data directory; PostgreSQL: a database of its own,
skipped unless AGENT_SERVICE_TEST_POSTGRES_URL is set) on the fake OpenAI server, each request
on a connection of its own so the kernel hands them to either worker. The JSON log names the
process of every request line (``pid``), which tells the test which worker answered what:

- both workers answer requests, and both are children of the one ``serve`` process;
- one message delivered 16 times at once (to both workers) is answered once: one model call,
  one stored reply, the same response to every delivery;
- a contact's messages, delivered at once and shuffled while its first turn is in flight, reach
  the model in the order the customer sent them;
- a burst from one contact past its limit gets 429 with Retry-After for exactly the surplus,
  and a repeat of an accepted message is never refused;
- every accepted asynchronous message gets exactly one callback;
- knowledge imported through one worker, or by `kb import` beside the service, is found
  through both at once (the parent's one Chroma server holds it);
- SIGTERM stops the parent, both workers and the Chroma server the parent started.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.conftest import ADMIN, CHANNEL, POSTGRES_URL, message
from tests.processes import CLI, REPO, Served, serve, service_env
from tests.reliability.database import rows
from tests.reliability.harness import CallbackReceiver, wait_until

ROWS: list[dict[str, Any]] = [
    {
        "question": "Can I bring my own pet iguana to the relaxation lounge?",
        "answer": "Iguanas are welcome in the lounge on Tuesdays, in a closed terrarium.",
        "language": "en",
    },
    {
        "question": "Do you sell gift cards shaped like a durian?",
        "answer": "Yes: durian-shaped gift cards, at reception in every branch.",
        "language": "en",
    },
]
CONTACT_BURST = 6
MODEL_SECONDS = 0.3
ASYNC = {**CHANNEL, "Prefer": "respond-async"}


@dataclass
class Workers:
    served: Served
    log: Path
    data_dir: Path
    model: FakeOpenAIServer
    receiver: CallbackReceiver

    def lines(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                found.append(json.loads(line))
        return found

    def pids_of(self, request_ids: set[str]) -> set[int]:
        """The processes whose request log lines carry these request ids."""
        return {
            int(line["pid"])
            for line in self.lines()
            if line.get("event") == "http request" and line.get("request_id") in request_ids
        }


@pytest.fixture(params=["sqlite", "postgresql"])
def workers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workers]:
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("AGENT_SERVICE_TEST_POSTGRES_URL is not set")
        data_dir: Path = request.getfixturevalue("data_dir")  # a database of its own
    elif POSTGRES_URL:
        # The suite's template is on PostgreSQL, and seeding a SQLite directory afresh costs
        # minutes on a busy machine: SQLite runs in the suite's SQLite pass.
        pytest.skip("SQLite runs when AGENT_SERVICE_TEST_POSTGRES_URL is unset")
    else:
        data_dir = request.getfixturevalue("data_dir")
    receiver = CallbackReceiver()
    log = tmp_path / "serve.log"
    with FakeOpenAIServer() as model, receiver.running() as hook, log.open("wb") as out:
        model.default = {"delay": MODEL_SECONDS, "message": completion("Happy to help!")}
        env = service_env(
            data_dir,
            AGENT_SERVICE_LLM_MODEL="fake-model",
            OPENAI_BASE_URL=model.url,
            OPENAI_API_KEY="not-needed",
            AGENT_SERVICE_CONTACT_BURST=str(CONTACT_BURST),
            AGENT_SERVICE_CONTACT_RATE_PER_SECOND="0.001",
            AGENT_SERVICE_CALLBACK_POLL_SECONDS="0.1",
            AGENT_SERVICE_UNANSWERED_SWEEP_SECONDS="0.25",
            AGENT_SERVICE_FOLLOWUP_POLL_SECONDS="0",
        )
        env.pop("AGENT_SERVICE_CHROMA_HOST", None)  # embedded defaults
        with serve(env, log=out, timeout=400, args=["--workers", "2"]) as served:
            started = Workers(served, log, data_dir, model, receiver)
            # /healthz answers once one worker is up; wait for the second.
            wait_until(
                lambda: log.read_text(errors="replace").count("Application startup complete") >= 2,
                timeout=400,
            )
            change = {"callback_url": hook, "callback_secret": "callback-secret-0123456789"}
            put = httpx.put(
                f"{served.url}/v1/workspaces/current/delivery", json=change, headers=ADMIN
            )
            assert put.status_code == 200, put.text
            yield started
            stop_all(started)


def stop_all(workers: Workers) -> None:
    """SIGTERM to the parent stops its workers and its Chroma server too."""
    parent = workers.served.process
    children = children_of(parent.pid)
    assert len(worker_processes(parent.pid)) == 2, children
    assert len([p for p in children if "chroma run" in command_of(p)]) == 1, children
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=60) == 0
    wait_until(lambda: not any(alive(pid) for pid in children), timeout=30)
    assert not (workers.data_dir / "chroma-server.json").exists()


def command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_processes(pid: int) -> set[int]:
    """uvicorn's worker processes (spawned interpreters; not multiprocessing's tracker)."""
    return {p for p in children_of(pid) if "spawn_main" in command_of(p)}


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def post(
    url: str, body: dict[str, Any], rid: str, headers: dict[str, str] = CHANNEL
) -> httpx.Response:
    """One delivery on a connection of its own; a 503 (the first delivery is still being
    answered by the other worker) is retried as a messaging layer would."""
    while True:
        response = httpx.post(
            f"{url}/v1/messages",
            json=body,
            headers={**headers, "X-Request-ID": rid},
            timeout=120,
        )
        if response.status_code != 503:
            return response
        assert int(response.headers["Retry-After"]) >= 1


def at_once(url: str, calls: list[tuple[dict[str, Any], str, dict[str, str]]]) -> list[Any]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: post(url, *call), calls))


def kb_import(workers: Workers, row: dict[str, Any]) -> None:
    """`agent-service kb import` of one row, as its own process beside the service."""
    source = workers.log.parent / "faq.json"
    source.write_text(json.dumps([row]), "utf-8")
    env = service_env(workers.data_dir)
    env.pop("AGENT_SERVICE_CHROMA_HOST", None)
    done = subprocess.run(
        [*CLI, "kb", "import", str(source)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 created" in done.stdout, done.stdout
    # It wrote through the service's Chroma server, not into the directory that server owns.
    address = json.loads((workers.data_dir / "chroma-server.json").read_text())
    assert f"Chroma server at 127.0.0.1:{address['port']}" in done.stderr, done.stderr


def at_once_search(url: str, question: str, prefix: str) -> list[dict[str, Any]]:
    """The first hit of eight searches at once, each on a connection of its own."""

    def search(i: int) -> dict[str, Any]:
        response = httpx.post(
            f"{url}/v1/knowledge/search",
            json={"query": question, "k": 3},
            headers={**ADMIN, "X-Request-ID": f"{prefix}-{i}"},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        return dict(response.json()["results"][0])

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(search, range(8)))


def chroma_holds(workers: Workers, question: str) -> bool:
    """Whether the parent's Chroma server (its address file) holds the entry's vector."""
    address = json.loads((workers.data_dir / "chroma-server.json").read_text())
    base = f"http://127.0.0.1:{address['port']}/api/v2/tenants/default_tenant/databases"
    base += "/default_database/collections"
    (entry_id,) = rows(
        workers.data_dir, "select id from knowledge_entries where question = :q", q=question
    )
    with httpx.Client(timeout=30) as http:
        collection = http.get(f"{base}/kb_ws_demo").json()["id"]
        got = http.post(f"{base}/{collection}/get", json={"ids": [entry_id[0]], "include": []})
        return list(got.json()["ids"]) == [entry_id[0]]


def customer_texts(model: FakeOpenAIServer, contact_tag: str) -> list[str]:
    """The last customer message of each model request that is about ``contact_tag``."""
    texts = []
    for request in model.requests:
        users = [m for m in request.get("messages", []) if m.get("role") == "user"]
        if users and contact_tag in str(users[-1].get("content")):
            texts.append(str(users[-1]["content"]))
    return texts


def test_two_workers_share_the_port_and_every_guarantee(workers: Workers) -> None:
    url, model = workers.served.url, workers.model
    worker_pids = worker_processes(workers.served.process.pid)
    assert len(worker_pids) == 2, worker_pids

    # Exactly once: one message delivered 16 times at once.
    body = message("How much is the facial? [dup]", contact="c-dup")
    answers = at_once(url, [(body, f"dup-{i}", CHANNEL) for i in range(16)])
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    assert len({r.content for r in answers}) == 1
    assert len(customer_texts(model, "[dup]")) == 1
    (stored,) = rows(
        workers.data_dir,
        "select count(*) from messages m join contacts c on c.id = m.contact_id "
        "where c.external_id = 'c-dup' and m.direction = 'out'",
    )
    assert stored == (1,)

    # Order: the contact's first turn is in flight; five more arrive at once, shuffled.
    sent = datetime.now(UTC) - timedelta(seconds=30)
    steps = [
        message(
            f"[order] step {i}",
            contact="c-order",
            sent_at=(sent + timedelta(seconds=i)).isoformat(),
        )
        for i in range(CONTACT_BURST)
    ]
    model.push({"delay": 2.0, "message": completion("Happy to help!")})
    with ThreadPoolExecutor(1) as first:
        held = first.submit(post, url, steps[0], "order-0")
        wait_until(lambda: len(customer_texts(model, "[order]")) == 1, timeout=60)
        later = list(enumerate(steps))[1:]
        random.shuffle(later)
        rest = at_once(url, [(b, f"order-{i}", CHANNEL) for i, b in later])
        assert held.result().status_code == 200
    assert {r.status_code for r in rest} == {200}, [r.text for r in rest]
    seen = [int(n) for t in customer_texts(model, "[order]") for n in re.findall(r"step (\d)", t)]
    assert seen == list(range(CONTACT_BURST)), seen

    # A flood from one contact: its burst passes, the surplus is refused, repeats never are.
    flood = [message(f"[flood] hello {i}", contact="c-flood") for i in range(2 * CONTACT_BURST)]
    acks = at_once(url, [(b, f"flood-{i}", ASYNC) for i, b in enumerate(flood)])
    codes = Counter(r.status_code for r in acks)
    assert codes == {202: CONTACT_BURST, 429: CONTACT_BURST}, codes
    for refused in (r for r in acks if r.status_code == 429):
        assert "contact" in refused.json()["detail"]
        assert int(refused.headers["Retry-After"]) >= 1
    accepted = [b for b, r in zip(flood, acks, strict=True) if r.status_code == 202]
    repeats = at_once(url, [(b, f"again-{i}", ASYNC) for i, b in enumerate(accepted * 3)])
    assert {r.status_code for r in repeats} == {202}, [r.text for r in repeats]

    # Each accepted asynchronous message: one callback, however many workers saw it.
    keys = {f"{b['channel']}:{b['message_id']}" for b in accepted}

    def delivered() -> Counter[str]:
        return Counter(
            headers.get("Idempotency-Key", "")
            for headers, _, status in workers.receiver.received
            if 200 <= status < 300
        )

    wait_until(lambda: keys <= set(delivered()), timeout=60)

    def settled() -> bool:
        unsent = "select 1 from callback_outbox where status in ('waiting', 'pending')"
        return not rows(workers.data_dir, unsent)

    wait_until(settled, timeout=60)
    assert all(delivered()[key] == 1 for key in keys), delivered()

    # Knowledge written through one worker, or by `kb import` beside the service, is found
    # through either worker at once: the parent's one Chroma server holds it.
    imported = httpx.post(
        f"{url}/v1/knowledge/import", json={"entries": [ROWS[0]]}, headers=ADMIN, timeout=300
    )
    assert imported.status_code == 200, imported.text
    kb_import(workers, ROWS[1])
    for n, row in enumerate(ROWS):
        hits = at_once_search(url, row["question"], prefix=f"search{n}")
        assert {(h["question"], h["answer"]) for h in hits} == {(row["question"], row["answer"])}
        assert chroma_holds(workers, row["question"])

    # Both workers answered requests, and they are the serve process's children.
    prefixes = ("dup", "order", "flood", "again", "search0", "search1")
    served_by = workers.pids_of({f"{p}-{i}" for p in prefixes for i in range(40)})
    assert len(served_by) == 2, served_by
    assert served_by == worker_pids, (served_by, worker_pids)
    assert workers.served.process.pid not in served_by
    assert os.getpid() not in served_by

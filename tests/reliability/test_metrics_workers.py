"""`serve --workers 2`: a scrape of /metrics, whichever worker answers it, counts the turns of
both workers (prometheus_client's multiprocess mode, the directory set up by `serve`).

The messages go on connections of their own, so the kernel spreads them over the workers; the
JSON log's ``pid`` tells which worker answered each request. The directory named by
PROMETHEUS_MULTIPROC_DIR holds a stale file from a "previous run": `serve` empties it first.
SQLite, or PostgreSQL (a database of its own) when AGENT_SERVICE_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import CHANNEL, POSTGRES_URL, message
from tests.processes import serve, service_env
from tests.reliability.harness import wait_until
from tests.reliability.test_workers import worker_processes

MESSAGES = 12


def totals(text: str) -> dict[str, float]:
    """Each sample summed over its labels, by sample name."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def log_pids(log: Path, request_ids: set[str]) -> set[int]:
    pids = set()
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry: dict[str, Any] = json.loads(line)
            if entry.get("event") == "http request" and entry.get("request_id") in request_ids:
                pids.add(int(entry["pid"]))
    return pids


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_scrape_sums_every_worker(database: str, tmp_path: Path, request: Any) -> None:
    if (database == "postgresql") != bool(POSTGRES_URL):
        pytest.skip("SQLite without AGENT_SERVICE_TEST_POSTGRES_URL, PostgreSQL with it")
    data_dir: Path = request.getfixturevalue("data_dir")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = metrics_dir / "counter_999999.db"
    stale.write_bytes(b"not a metrics file from this run")
    log = tmp_path / "serve.log"
    env = service_env(
        data_dir,
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        AGENT_SERVICE_FOLLOWUP_POLL_SECONDS="0",
    )
    env.pop("AGENT_SERVICE_CHROMA_HOST", None)
    with log.open("wb") as out, serve(env, log=out, timeout=400, args=["--workers", "2"]) as served:
        wait_until(
            lambda: log.read_text(errors="replace").count("Application startup complete") >= 2,
            timeout=400,
        )
        assert not stale.exists(), "serve must empty the metrics directory before it starts"
        workers = worker_processes(served.process.pid)
        assert len(workers) == 2

        def send(i: int) -> str:
            body = message(f"Hello, how much is a facial? ({i})", contact=f"c-many-{i}")
            response = httpx.post(
                f"{served.url}/v1/messages",
                json=body,
                headers={**CHANNEL, "X-Request-ID": f"msg-{i}"},
                timeout=300,
            )
            return "ok" if response.status_code == 200 else f"{response.status_code} {i}"

        with ThreadPoolExecutor(4) as pool:
            sent = set(pool.map(send, range(MESSAGES)))
        errors = [line for line in log.read_text(errors="replace").splitlines() if "rror" in line]
        assert sent == {"ok"}, (sent, errors[-20:])
        answered_by = log_pids(log, {f"msg-{i}" for i in range(MESSAGES)})
        assert answered_by == workers, "both workers must have answered messages"

        # Scrape on fresh connections until both workers answered a scrape: each one's
        # answer counts every message and every turn.
        scraped_by: set[int] = set()
        for attempt in range(60):
            rid = f"scrape-{attempt}"
            response = httpx.get(f"{served.url}/metrics", headers={"X-Request-ID": rid})
            assert response.status_code == 200, response.text
            found = totals(response.text)
            assert found["agent_service_messages_received_total"] == MESSAGES, found
            assert found["agent_service_turns_total"] == MESSAGES, found
            assert found["agent_service_turn_duration_seconds_count"] == MESSAGES, found
            assert found["agent_service_turns_in_flight"] == 0, found
            assert found["agent_service_messages_waiting"] == 0, found
            wait_until(lambda rid=rid: bool(log_pids(log, {rid})), timeout=30)
            scraped_by |= log_pids(log, {rid})
            if scraped_by == workers:
                break
        assert scraped_by == workers, scraped_by

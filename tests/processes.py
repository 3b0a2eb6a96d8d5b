"""The service as its own process, for tests that need what a thread cannot give: kill -9,
several replicas on one database, a CLI beside a running server, a client over a real socket.

Every such test starts `agent-service serve` (this checkout's code) the same way: the demo
keys of tests/conftest.py, the burst window off, the test's data directory (and its database,
when the suite runs on PostgreSQL), plus the test's own settings.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.conftest import ADMIN_KEY, CHANNEL_KEY, POSTGRES_URL, QA_KEY, make_settings
from tests.reliability.harness import wait_until

REPO = Path(__file__).resolve().parents[1]
# `agent-service` without relying on the console script being on PATH.
CLI = [sys.executable, "-c", "from agent_service.cli.main import app; app()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def service_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a service process on ``data_dir`` and the database the suite gave
    it (its PostgreSQL copy, or SQLite); ``settings`` override, e.g.
    ``AGENT_SERVICE_TURN_LEASE_SECONDS="3"``. The offline planner unless a model is set."""
    env = {
        **os.environ,
        "AGENT_SERVICE_DATA_DIR": str(data_dir),
        "AGENT_SERVICE_DATABASE_URL": make_settings(data_dir).resolved_database_url,
        "AGENT_SERVICE_DEMO_CHANNEL_KEY": CHANNEL_KEY,
        "AGENT_SERVICE_DEMO_ADMIN_KEY": ADMIN_KEY,
        "AGENT_SERVICE_DEMO_QA_KEY": QA_KEY,
        "AGENT_SERVICE_BURST_WINDOW_SECONDS": "0",
    }
    env.pop("AGENT_SERVICE_LLM_MODEL", None)
    env.update(settings)
    return env


@dataclass
class Served:
    url: str
    port: int
    process: subprocess.Popen[bytes]


@contextmanager
def serve(
    env: dict[str, str],
    port: int | None = None,
    timeout: float = 300,
    log: IO[bytes] | None = None,
    args: Sequence[str] = (),
) -> Iterator[Served]:
    """``agent-service serve`` with ``env``; yields once it answers /healthz, stops it after
    (unless the test killed it). ``args`` go after ``serve --port P``, e.g. ``--workers 2``."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [*CLI, "serve", "--port", str(port), *args],
        cwd=REPO,
        env=env,
        stdout=log or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: healthy(url) or process.poll() is not None, timeout=timeout)
        assert process.poll() is None, "the service did not start"
        yield Served(url, port, process)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@contextmanager
def two_replicas(
    request: pytest.FixtureRequest, tmp_path: Path, **settings: str
) -> Iterator[list[str]]:
    """Two server processes on one database (started one after the other), for a fixture
    parametrised by ``"sqlite"``/``"postgresql"``; ``settings`` as for ``service_env``."""
    if request.param == "postgresql":
        if not POSTGRES_URL:
            pytest.skip("AGENT_SERVICE_TEST_POSTGRES_URL is not set")
        data_dir: Path = request.getfixturevalue("data_dir")  # a database of its own
    elif POSTGRES_URL:
        data_dir = tmp_path / "data"  # the shared template is on PostgreSQL: seed afresh
    else:
        data_dir = request.getfixturevalue("data_dir")
    env = service_env(data_dir, **settings)
    with ExitStack() as stack:
        yield [stack.enter_context(serve(env)).url for _ in range(2)]

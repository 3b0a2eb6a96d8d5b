"""The console's browser tests: one real server for the module, one Chromium for the session.

Chromium is Debian's (``apt-get install chromium``), never a browser Playwright downloads; its
path comes from ``PLAYWRIGHT_CHROMIUM`` (default ``/usr/bin/chromium``). Without it, or without
the ``playwright`` package, the browser tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, POSTGRES_URL, TEMPLATE_DB, _run_sql
from tests.reliability.harness import LiveServer, live_server

CHROMIUM = os.environ.get("PLAYWRIGHT_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


# One case, so an eval run started from the console finishes in seconds.
TINY_SUITE = """
name: tiny
version: "1"
description: One price question, for the console's eval page.
threshold: 0.9
regression_tolerance: 0
cases:
  - id: facial-price-en
    steps:
      - say: "Hi, how much do you charge for a basic facial?"
        expect: {language: en}
"""


def _sql(statement: str) -> None:
    """On a thread of its own: Playwright's sync API keeps an event loop on the test thread,
    where ``asyncio.run`` refuses to start another."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(_run_sql, statement).result()


@pytest.fixture(scope="module")
def server(
    template_data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The service on a real socket, on a copy of the seeded demo workspace (a database of its
    own on PostgreSQL, dropped afterwards)."""
    target = tmp_path_factory.mktemp("console") / "data"
    shutil.copytree(template_data_dir, target)
    evals_dir = target.parent / "evals"
    evals_dir.mkdir()
    (evals_dir / "tiny.yaml").write_text(TINY_SUITE, "utf-8")
    name = None
    if POSTGRES_URL:
        name = f"agent_service_console_{uuid.uuid4().hex[:12]}"
        _sql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
        (target / "postgres-database").write_text(name)
    try:
        with live_server(target, evals_dir=evals_dir) as live:
            yield live
    finally:
        if name is not None:
            _sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def console_key(server: LiveServer) -> str:
    """A key with the admin and qa roles (eval runs ask for qa), made through the API."""
    response = httpx.post(
        f"{server.url}/v1/workspaces/ws_demo/keys",
        json={"roles": ["admin", "qa"], "label": "console test"},
        headers=ADMIN,
        timeout=30,
    )
    assert response.status_code in (200, 201), response.text
    key: str = response.json()["key"]
    return key


@pytest.fixture(scope="module")
def browser(template_data_dir: Path) -> Iterator[Any]:
    """One Chromium for the browser tests (they are one module). Module-scoped, not
    session-scoped: while Playwright's sync API runs it keeps an event loop on the test thread,
    and every later test that starts a loop of its own (``asyncio.run``: the PostgreSQL test
    databases, the async tests) would fail. The demo template is seeded first for that reason."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"no Chromium at {CHROMIUM}: apt-get install chromium, or set PLAYWRIGHT_CHROMIUM"
        )
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A fresh tab (empty sessionStorage) that records every URL it requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.requested = []  # type: ignore[attr-defined]
    tab.on("request", lambda request: tab.requested.append(request.url))  # type: ignore[attr-defined]
    try:
        yield tab
    finally:
        context.close()

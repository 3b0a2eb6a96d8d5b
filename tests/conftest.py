"""Shared fixtures: a seeded demo workspace copied per test, clients with fakes injected."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from langchain_core.language_models import BaseChatModel

from agent_service.agent.deps import AgentDeps
from agent_service.agent.intents.detector import IntentDetector
from agent_service.api.main import create_app
from agent_service.core.config import Settings
from agent_service.service import build_service

CHANNEL_KEY = "test-channel-key-0001"
ADMIN_KEY = "test-admin-key-0001"
QA_KEY = "test-qa-key-0001"
CHANNEL = {"Authorization": f"Bearer {CHANNEL_KEY}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
QA = {"Authorization": f"Bearer {QA_KEY}"}
START = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
# Set to a server URL (postgresql+asyncpg://user:pw@host/postgres) to run against PostgreSQL:
# the demo is seeded once into a template database, and each test gets a copy of it.
POSTGRES_URL = os.environ.get("AGENT_SERVICE_TEST_POSTGRES_URL")
# Sessions running at once on one server (several checkouts) each name their own template.
TEMPLATE_DB = os.environ.get("AGENT_SERVICE_TEST_TEMPLATE_DB", "agent_service_template")


class TickingClock:
    """A deterministic clock: each reading is one second after the previous one."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(seconds=1)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture(autouse=True)
def _no_real_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach a real model: the environment's endpoint settings are removed."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENT_SERVICE_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    database = data_dir / "postgres-database"
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": _database_url(database.read_text()) if database.exists() else None,
        "demo_channel_key": CHANNEL_KEY,
        "demo_admin_key": ADMIN_KEY,
        "demo_qa_key": QA_KEY,
        "bootstrap_admin_key": "test-bootstrap-key-0001",
        "llm_model": None,
        "llm_retry_budget_seconds": 1.0,
        "burst_window_seconds": 0.0,  # burst tests set their own window
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def template_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace, seeded and indexed once per test session."""
    path = tmp_path_factory.mktemp("template") / "data"
    if POSTGRES_URL:
        _run_sql(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}"', f'CREATE DATABASE "{TEMPLATE_DB}"')
        path.mkdir(parents=True)
        (path / "postgres-database").write_text(TEMPLATE_DB)
    service = build_service(make_settings(path))

    async def seed() -> None:
        await service.start()
        await service.stop()

    asyncio.run(seed())
    return path


@pytest.fixture
def data_dir(template_data_dir: Path, tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "data"
    shutil.copytree(template_data_dir, target)
    if not POSTGRES_URL:
        yield target
        return
    name = f"agent_service_test_{uuid.uuid4().hex[:12]}"
    _run_sql(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    (target / "postgres-database").write_text(name)
    yield target
    _run_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_url(name: str) -> str:
    assert POSTGRES_URL is not None
    return POSTGRES_URL.rsplit("/", 1)[0] + "/" + name


def _run_sql(*statements: str) -> None:
    import asyncpg

    async def run() -> None:
        assert POSTGRES_URL is not None
        connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run())


ClientFactory = Callable[..., Any]
_INTENTS: list[IntentDetector] = []


def _shared_intents(deps: AgentDeps) -> IntentDetector:
    """Intent examples are embedded once per test session, not once per client (~2 s each)."""
    if not _INTENTS:
        _INTENTS.append(deps.intents)
    return _INTENTS[0]


@pytest.fixture
def make_client(data_dir: Path) -> Iterator[ClientFactory]:
    """``with make_client(chat_model=..., clock=..., **settings) as client:``."""

    @contextmanager
    def factory(
        chat_model: BaseChatModel | None = None,
        clock: Callable[[], datetime] | None = None,
        **overrides: Any,
    ) -> Iterator[TestClient]:
        settings = make_settings(data_dir, **overrides)
        service = build_service(settings, chat_model=chat_model, clock=clock or TickingClock())
        service.deps.intents = _shared_intents(service.deps)
        with TestClient(create_app(settings, service=service)) as client:
            client.app_state = service  # type: ignore[attr-defined]
            yield client

    yield factory


@pytest.fixture
def client(make_client: ClientFactory) -> Iterator[TestClient]:
    """A client on the offline planner (no model configured)."""
    with make_client() as c:
        yield c


_counter = iter(range(1, 1_000_000))


def message(
    text: str,
    contact: str = "c-1",
    message_id: str | None = None,
    channel: str = "whatsapp",
    locale: str | None = None,
    name: str | None = "Lan",
    sent_at: str = "2026-11-22T06:00:00Z",
) -> dict[str, Any]:
    """A POST /v1/messages body."""
    return {
        "message_id": message_id or f"wamid.{next(_counter)}",
        "channel": channel,
        "contact": {"id": contact, "name": name, "phone": "+84901234567", "locale": locale},
        "text": text,
        "sent_at": sent_at,
    }


def send(client: TestClient, text: str, **kwargs: Any) -> dict[str, Any]:
    """Post a message and return the 200 response body."""
    response = client.post("/v1/messages", json=message(text, **kwargs), headers=CHANNEL)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body

"""A server process freezes its start-up heap once started (core/heap.py); a test app does not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_service.api.main import create_app
from tests.conftest import CHANNEL, make_settings, message


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process builds many services: nothing stays frozen


def test_a_server_app_freezes_its_startup_heap_and_still_answers(
    data_dir: Path, unfrozen: None
) -> None:
    with TestClient(create_app(make_settings(data_dir), freeze_heap=True)) as client:
        frozen = gc.get_freeze_count()
        # The models' wrappers and the imported libraries: far more than a request makes.
        assert frozen > 50_000
        reply = client.post("/v1/messages", json=message("xin chào"), headers=CHANNEL)
        assert reply.status_code == 200, reply.text
        # Frozen once, at start-up: what requests create is collected as before.
        assert gc.get_freeze_count() <= frozen


def test_an_app_built_for_tests_freezes_nothing(data_dir: Path, unfrozen: None) -> None:
    with TestClient(create_app(make_settings(data_dir))):
        assert gc.get_freeze_count() == 0

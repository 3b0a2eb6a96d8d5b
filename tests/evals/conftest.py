"""Eval fixtures: a started service on a copy of the seeded demo data, and suite files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml

from agent_service.service import Service, build_service
from tests.conftest import TickingClock, make_settings

SuiteWriter = Callable[..., Path]


@pytest.fixture
async def service(data_dir: Path) -> AsyncIterator[Service]:
    svc = build_service(make_settings(data_dir), clock=TickingClock())
    await svc.start()
    yield svc
    await svc.stop()


@pytest.fixture
def write_suite(tmp_path: Path) -> SuiteWriter:
    """``write_suite(cases, name=..., **suite_fields)`` -> the YAML file's path."""

    def write(cases: list[dict[str, object]], name: str = "t", **fields: object) -> Path:
        path = tmp_path / f"{name}.yaml"
        body = {"name": name, "version": "1", "cases": cases, **fields}
        path.write_text(yaml.safe_dump(body, allow_unicode=True), "utf-8")
        return path

    return write

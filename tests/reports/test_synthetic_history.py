"""The synthetic history generator fills a workspace that the reports can read."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_service.cli.main import app
from agent_service.core.config import get_settings
from agent_service.reports.synthetic_history import HistoryShape, generate_history
from agent_service.workspaces.config import load_workspace_config
from tests.conftest import ADMIN, ClientFactory, TickingClock

PERIOD = "from=2025-01-01&to=2026-12-31"


def test_generated_history_is_consistent_with_the_reports(make_client: ClientFactory) -> None:
    clock = TickingClock()
    with make_client(clock=clock, followup_poll_seconds=0) as client:
        sessions = client.app_state.deps.sessions  # type: ignore[attr-defined]

        async def fill() -> dict[str, int]:
            async with sessions() as session:
                lifecycle = (await load_workspace_config(session, "ws_demo")).lifecycle
            end: datetime = clock.now
            return await generate_history(
                sessions, "ws_demo", lifecycle, HistoryShape(contacts=400, months=3), end
            )

        written: dict[str, Any] = client.portal.call(fill)  # type: ignore[union-attr]

        def report(path: str) -> Any:
            response = client.get(f"/v1/reports/{path}?{PERIOD}", headers=ADMIN)
            assert response.status_code == 200, response.text
            return response.json()

        funnel, lost, attribution = report("funnel"), report("lost"), report("attribution")
        ai, segments = report("ai-vs-human"), report("segments")
    assert written["contacts"] == 400 and written["messages"] >= 800
    assert funnel["stages"][0]["entered"] == 400
    entered = [s["entered"] for s in funnel["stages"]]
    assert entered == sorted(entered, reverse=True), "a funnel narrows"
    assert lost["total"] == sum(c["contacts"] for c in segments["counts"] if c["lost"])
    assert sum(lead["contacts"] for lead in attribution["leads"]) == 400
    assert len({lead["campaign"] for lead in attribution["leads"]}) >= 5
    assert any(r["value"] > 0 for r in attribution["conversions"])
    actors = {(c["actor"], c["kind"]) for c in ai["stage_changes"]}
    assert {("ai", "stage"), ("human", "stage"), ("system", "stage"), ("system", "lost")} <= actors
    assert 0 < ai["handoff_rate"] < 1


def test_demo_generate_command(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_SERVICE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("AGENT_SERVICE_DEMO_ADMIN_KEY", "test-admin-key-0001")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["demo", "generate", "--contacts", "30", "--months", "1"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    written = json.loads(result.output.strip().splitlines()[-1])
    assert written["contacts"] == 30 and written["stage_changes"] >= 30

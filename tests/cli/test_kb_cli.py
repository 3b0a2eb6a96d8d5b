"""``agent-service kb import|export|reindex`` on a copy of the seeded demo workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent_service.cli.main import app
from agent_service.core.config import get_settings
from tests.conftest import ADMIN_KEY, CHANNEL_KEY, QA_KEY


@pytest.fixture
def cli_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AGENT_SERVICE_DATA_DIR", str(data_dir))
    for name, key in (("CHANNEL", CHANNEL_KEY), ("ADMIN", ADMIN_KEY), ("QA", QA_KEY)):
        monkeypatch.setenv(f"AGENT_SERVICE_DEMO_{name}_KEY", key)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_import_reports_throughput_and_bad_rows_then_export_and_reindex(
    cli_env: Path, tmp_path: Path
) -> None:
    rows: list[dict[str, object]] = [
        {"question": f"CLI question {i}", "answer": f"CLI answer {i}", "language": "en"}
        for i in range(50)
    ]
    rows.insert(7, {"question": "no answer", "language": "en"})
    source = tmp_path / "faq.json"
    source.write_text(json.dumps(rows), "utf-8")
    runner = CliRunner()

    imported = runner.invoke(app, ["kb", "import", str(source), "--batch", "16", "--tag", "cli"])
    assert imported.exit_code == 0, imported.output
    assert "imported 50 entries into ws_demo" in imported.output
    assert "entries/s" in imported.output and "1 row(s) refused" in imported.output
    assert "row 8: answer" in imported.output

    target = tmp_path / "out.json"
    exported = runner.invoke(app, ["kb", "export", str(target)])
    assert exported.exit_code == 0, exported.output
    entries = json.loads(target.read_text("utf-8"))
    cli_rows = [e for e in entries if e["question"].startswith("CLI question")]
    assert len(cli_rows) == 50 and all(e["tags"] == ["cli"] for e in cli_rows)

    reindexed = runner.invoke(app, ["kb", "reindex"])
    assert reindexed.exit_code == 0, reindexed.output
    assert f"re-indexed {len(entries)} entries of ws_demo" in reindexed.output


def test_unknown_format_is_refused(cli_env: Path, tmp_path: Path) -> None:
    source = tmp_path / "faq.xlsx"
    source.write_bytes(b"x")
    result = CliRunner().invoke(app, ["kb", "import", str(source)])
    assert result.exit_code != 0 and "--format" in result.output

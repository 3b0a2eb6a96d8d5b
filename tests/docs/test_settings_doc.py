"""docs/settings.md lists every setting exactly as ``agent-service settings`` prints it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from agent_service.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_settings_doc_is_what_the_command_prints() -> None:
    printed = CliRunner().invoke(app, ["settings"])
    assert printed.exit_code == 0, printed.output
    table = DOC.read_text(encoding="utf-8").split("| variable |", 1)[1]
    assert "| variable |" + table.rstrip() == printed.output.strip(), (
        "docs/settings.md is stale: regenerate its table with `agent-service settings`"
    )

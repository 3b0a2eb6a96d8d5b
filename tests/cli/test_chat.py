"""``agent-service chat``: an interactive conversation in the terminal, one start per session,
locally or with a running service by URL and key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import agent_service.service
from agent_service.cli.main import app
from agent_service.core.config import get_settings
from tests.conftest import ADMIN_KEY, CHANNEL_KEY, QA_KEY
from tests.reliability.harness import live_server


@pytest.fixture
def cli_env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("AGENT_SERVICE_DATA_DIR", str(data_dir))
    for name, key in (("CHANNEL", CHANNEL_KEY), ("ADMIN", ADMIN_KEY), ("QA", QA_KEY)):
        monkeypatch.setenv(f"AGENT_SERVICE_DEMO_{name}_KEY", key)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


def test_a_local_session_starts_once_and_shows_replies_actions_trace_and_stage(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    starts: list[Any] = []
    real = agent_service.service.build_service

    def counting(*args: Any, **kwargs: Any) -> Any:
        starts.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(agent_service.service, "build_service", counting)
    lines = [
        "Gói chăm sóc da mặt giá bao nhiêu?",
        "/trace",
        "Mình muốn đặt lịch ở chi nhánh Sài Gòn",
        "/stage",
        "/nonsense",
        "/reset",
        "/stage",
        "/quit",
        "never sent",
    ]
    result = CliRunner().invoke(app, ["chat", "--contact", "lan"], input="\n".join(lines) + "\n")
    out = result.output
    assert result.exit_code == 0, out
    assert len(starts) == 1  # one start for the whole session, not one per message
    assert "talking as contact lan" in out
    replies = [line for line in out.splitlines() if "agent> " in line]
    assert len(replies) == 2, out
    assert "600,000" in replies[0]  # a grounded answer, as text, not JSON
    assert '"message_id"' not in out
    # /trace: what the first turn retrieved, with scores, and which brain answered
    assert "brain offline-planner" in out and "retrieval: ok" in out
    assert any(line.strip()[:1] == "0" and "?" in line for line in out.splitlines())
    # the second message moved the contact: the action line, then /stage agrees
    assert "* stage New Lead -> Hot Lead" in out
    assert "stage Hot Lead, owner ai" in out
    assert "unknown command /nonsense" in out
    # /reset speaks as a new contact, which has no conversation yet
    assert "new conversation as contact cli-" in out
    assert "no contact yet" in out
    assert "never sent" not in out


def test_one_message_from_the_shell_prints_text_or_json(cli_env: Path) -> None:
    runner = CliRunner()
    text = runner.invoke(app, ["chat", "What are your opening hours in KL?", "--contact", "k1"])
    assert text.exit_code == 0, text.output
    assert text.output.startswith("agent> ") and "{" not in text.output.splitlines()[0]
    raw = runner.invoke(app, ["chat", "hello", "--contact", "k2", "--json"])
    assert raw.exit_code == 0, raw.output
    assert '"status": "replied"' in raw.output


def test_a_session_with_a_running_service_by_url_and_key(data_dir: Path) -> None:
    runner = CliRunner()
    with live_server(data_dir) as server:
        refused = runner.invoke(app, ["chat", "hi", "--url", server.url])
        assert refused.exit_code != 0 and "--url needs --key" in refused.output
        wrong = runner.invoke(app, ["chat", "hi", "--url", server.url, "--key", "nope-nope-nope"])
        assert wrong.exit_code == 1 and "error: 401" in wrong.output
        lines = ["How much is a basic facial in KL?", "/stage", "/trace", "/quit"]
        result = runner.invoke(
            app,
            ["chat", "--url", server.url, "--key", CHANNEL_KEY, "--contact", "remote-1"],
            input="\n".join(lines) + "\n",
        )
        assert result.exit_code == 0, result.output
        assert "agent> " in result.output and "RM" in result.output
        assert "stage New Lead, owner ai" in result.output
        assert "the trace needs a key with the admin or qa role" in result.output
        traced = runner.invoke(
            app,
            ["chat", "--url", server.url, "--key", CHANNEL_KEY, "--admin-key", ADMIN_KEY,
             "--contact", "remote-2"],
            input="Do you have parking in Bangkok?\n/trace\n",
        )  # fmt: skip
        assert traced.exit_code == 0, traced.output
        assert "brain offline-planner" in traced.output and "retrieval: ok" in traced.output
        assert "prompts phrases@1, system@1" in traced.output

"""`agent-service eval run` against an OpenAI-compatible endpoint (the local fake server):
reports, cost, a baseline comparison and the gate's exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_service.cli.main import app
from agent_service.core.config import get_settings
from agent_service.testing.fake_openai_server import FakeOpenAIServer, completion
from tests.evals.conftest import SuiteWriter

runner = CliRunner()


def eval_run(data_dir: Path, *args: str) -> Any:
    return runner.invoke(
        app,
        [
            "eval",
            "run",
            *args,
            "--model",
            "fake-model",
            "--data-dir",
            str(data_dir),
            "--no-progress",
        ],
    )


def test_cli_runs_against_an_openai_compatible_model_and_gates_on_the_baseline(
    data_dir: Path, tmp_path: Path, write_suite: SuiteWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = write_suite(
        [
            {
                "id": "price",
                "steps": [{"say": "How much is a basic facial in KL?"}],
                "expect": {"replies": {"contains": ["RM 150"]}, "grounded": True},
            }
        ],
        name="price",
        threshold=1.0,
    )
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-fake")
        monkeypatch.setenv("AGENT_SERVICE_EVAL_PRICE_PER_1K_INPUT_TOKENS", "0.5")
        get_settings.cache_clear()
        server.default = {"message": completion("A basic facial in KL is RM 150.")}
        good = eval_run(data_dir, str(suite), "--out", str(tmp_path / "good"))
        assert good.exit_code == 0, good.output
        assert "GATE PASSED" in good.output
        report = json.loads((tmp_path / "good" / "report.json").read_text("utf-8"))
        assert report["model"] == "fake-model"
        assert report["metrics"]["input_tokens_per_turn"] == 200
        assert report["metrics"]["cost"] == pytest.approx(0.1)  # 200 tokens at 0.5 per 1k
    # A second server: langchain-openai caches its HTTP client per URL, bound to the event loop
    # of the first run (one CLI process makes one run, so only a test sees this).
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        get_settings.cache_clear()
        server.default = {"message": completion("A basic facial in KL is RM 99 today only.")}
        bad = eval_run(
            data_dir,
            str(suite),
            "--out",
            str(tmp_path / "bad"),
            "--baseline",
            str(tmp_path / "good" / "report.json"),
        )
    get_settings.cache_clear()
    assert bad.exit_code == 1, bad.output
    assert "GATE FAILED" in bad.output
    assert "price/price: passed -> failed" in bad.output
    failed = json.loads((tmp_path / "bad" / "report.json").read_text("utf-8"))["results"][0]
    assert {f["expectation"] for f in failed["failures"]} == {"replies.contains", "grounded"}
    assert "99" in next(f["message"] for f in failed["failures"] if f["expectation"] == "grounded")
    assert (tmp_path / "bad" / "junit.xml").exists() and (tmp_path / "bad" / "gate.json").exists()
    compared = runner.invoke(
        app,
        [
            "eval",
            "compare",
            str(tmp_path / "bad" / "report.json"),
            str(tmp_path / "good" / "report.json"),
        ],
    )
    assert compared.exit_code == 1
    assert "price/price: passed -> failed" in compared.output


def test_an_eval_run_on_a_fresh_copy_prints_no_api_keys(
    tmp_path: Path, write_suite: SuiteWriter
) -> None:
    """The throwaway workspace's generated keys are nobody's business: only `serve` shows them."""
    suite = write_suite(
        [{"id": "hello", "steps": [{"say": "hello"}], "expect": {"replies": {"silent": False}}}],
        name="hello",
    )
    result = runner.invoke(
        app,
        ["eval", "run", str(suite), "--data-dir", str(tmp_path / "fresh"), "--no-progress",
         "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code in (0, 1), result.output
    assert (tmp_path / "out" / "report.json").exists(), result.output
    assert "demo workspace" not in result.output and "ask_" not in result.output

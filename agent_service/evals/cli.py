"""``agent-service eval run SUITE...``: run suites, write reports, compare, gate (exit code)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import typer

from agent_service.core.config import Settings, get_settings

eval_app = typer.Typer(help="Evaluation suites: run, compare with a baseline, gate.")


def parse_prompt_versions(values: list[str]) -> tuple[dict[str, str], dict[str, int]]:
    """``NAME=FILE`` (the file's body becomes a new version of prompt NAME) or ``NAME@N``
    (the workspace's stored version N, e.g. a draft not yet active)."""
    overrides: dict[str, str] = {}
    pins: dict[str, int] = {}
    for value in values:
        name, at, version = value.partition("@")
        if at and version.isdigit():
            pins[name.strip()] = int(version)
            continue
        name, sep, file = value.partition("=")
        if not sep or not Path(file).is_file():
            raise typer.BadParameter(
                f"'{value}': expected NAME=FILE (e.g. phrases=my_phrases.yaml) or NAME@VERSION"
            )
        overrides[name.strip()] = Path(file).read_text("utf-8")
    return overrides, pins


def _model_for(settings: Settings, name: str | None) -> Any:
    from agent_service.agent.chat_model import build_chat_model

    if name is None:
        return None
    return build_chat_model(settings.model_copy(update={"llm_model": name}))


async def _run(
    settings: Settings, config: Any, run_dir: Path, progress: bool, stop: asyncio.Event
) -> dict[str, Any]:
    from agent_service.evals.report import build_report
    from agent_service.evals.runner import run_evals
    from agent_service.service import build_service

    if config.model is not None:
        settings = settings.model_copy(update={"llm_model": config.model})
    service = build_service(settings)
    await service.start()
    loop = asyncio.get_running_loop()

    def on_interrupt() -> None:
        stop.set()
        loop.remove_signal_handler(signal.SIGINT)  # a second Ctrl-C aborts at once
        typer.echo(
            "\nstopping: letting the running trials finish (Ctrl-C again to abort)", err=True
        )

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    try:
        outcome = await run_evals(
            service.deps,
            config,
            run_dir,
            customer_model=_model_for(settings, settings.eval_customer_model),
            judge_model=_model_for(settings, settings.eval_judge_model),
            progress=progress,
            stop=stop,
        )
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        await service.stop()
    return build_report(outcome)


@eval_app.command("run")
def run(
    suites: list[str] = typer.Argument(None, help="Suite files, directories or names in evals/."),
    model: str | None = typer.Option(None, help="OpenAI-compatible model; default: offline."),
    prompt_version: list[str] = typer.Option(
        [], help="NAME=FILE (a prompt body to try) or NAME@VERSION (a stored version)."
    ),
    trials: int = typer.Option(1, min=1, max=50, help="Trials per case (pass^k up to this)."),
    baseline: Path | None = typer.Option(None, help="A previous report.json to compare with."),
    concurrency: int = typer.Option(4, min=1, max=64, help="Cases running at once."),
    out: Path | None = typer.Option(None, help="Run directory (results and reports)."),
    resume: Path | None = typer.Option(None, help="Continue an interrupted run directory."),
    data_dir: Path | None = typer.Option(
        None, help="Use this service data dir (copying --workspace); default: a fresh temp one."
    ),
    workspace: str = typer.Option("ws_demo", help="The workspace the eval copies its setup from."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Run suites on a throwaway copy of a workspace; exit 1 when the gate fails."""
    from agent_service.evals.compare import gate, gate_text
    from agent_service.evals.environment import PromptVersionNotFound
    from agent_service.evals.report import write_reports
    from agent_service.evals.runner import RunConfig
    from agent_service.evals.suite import SuiteError, resolve_suites

    settings = get_settings()
    if resume is not None:
        config = RunConfig.load(resume)
        run_dir = resume
    else:
        if not suites:
            raise typer.BadParameter("name at least one suite, e.g. `agent-service eval run evals`")
        try:
            paths = resolve_suites(suites, settings.evals_dir)
        except SuiteError as exc:
            raise typer.BadParameter(str(exc)) from exc
        overrides, pins = parse_prompt_versions(prompt_version)
        config = RunConfig(
            suites=[str(p) for p in paths],
            trials=trials,
            concurrency=concurrency,
            model=model,
            prompt_overrides=overrides,
            prompt_pins=pins,
            prompt_label=", ".join(prompt_version) or None,
            source_workspace=workspace,
        )
        run_dir = out or Path("eval-runs") / config.run_id
    base = data_dir or Path(tempfile.mkdtemp(prefix="agent-service-eval-"))
    settings = settings.model_copy(update={"data_dir": base, "seed_demo": True})
    stop = asyncio.Event()
    resume_hint = (
        f"interrupted; finished trials are kept in {run_dir}. Continue with:\n"
        f"  agent-service eval run --resume {run_dir}"
    )
    try:
        report = asyncio.run(_run(settings, config, run_dir, progress, stop))
    except KeyboardInterrupt:
        typer.echo(resume_hint, err=True)
        raise typer.Exit(130) from None
    except PromptVersionNotFound as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        if data_dir is None:  # the throwaway service's database and index
            shutil.rmtree(base, ignore_errors=True)
    baseline_report = json.loads(baseline.read_text("utf-8")) if baseline else None
    result = gate(report, baseline_report)
    report["gate"] = result.as_json()
    write_reports(report, run_dir)
    (run_dir / "gate.json").write_text(json.dumps(result.as_json(), indent=1), "utf-8")
    if stop.is_set():
        typer.echo(f"partial reports: {run_dir / 'report.html'}\n{resume_hint}", err=True)
        raise typer.Exit(130)
    metrics = report["metrics"]
    typer.echo(
        f"{metrics['statuses']} pass rate {metrics['pass_rate']} pass^k {metrics['pass_hat_k']}"
    )
    typer.echo(
        f"reports: {run_dir / 'report.html'} {run_dir / 'report.json'} {run_dir / 'junit.xml'}"
    )
    typer.echo(gate_text(result))
    raise typer.Exit(0 if result.passed else 1)


@eval_app.command("schema")
def schema(out: Path = typer.Option(Path("evals/suite.schema.json"))) -> None:
    """Write the suite files' JSON schema (for editors)."""
    from agent_service.evals.suite import json_schema

    out.write_text(json_schema(), "utf-8")
    typer.echo(f"wrote {out}")


@eval_app.command("compare")
def compare_reports(
    report: Path = typer.Argument(..., help="The candidate's report.json."),
    baseline: Path = typer.Argument(..., help="The baseline's report.json."),
) -> None:
    """Compare two finished runs (two prompt versions, two models) and apply the gate."""
    from agent_service.evals.compare import gate, gate_text

    result = gate(json.loads(report.read_text("utf-8")), json.loads(baseline.read_text("utf-8")))
    typer.echo(gate_text(result))
    raise typer.Exit(0 if result.passed else 1)

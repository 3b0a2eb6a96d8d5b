"""The eval runner: suites x trials, bounded concurrency, a progress bar, a resumable run
directory (one result file per case trial, written as it finishes), and the reports."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from tqdm import tqdm

from agent_service.agent.deps import AgentDeps
from agent_service.core.ids import new_id
from agent_service.evals.environment import (
    clone_workspace,
    drop_workspace_index,
    knowledge_version,
    prompt_versions,
    warm_up,
)
from agent_service.evals.suite import Case, Suite, load_suite
from agent_service.evals.trial import TrialContext, TrialResult, run_trial

RESULTS = "results"


@dataclass
class RunConfig:
    """What to run; stored as ``run.json`` so an interrupted run can be resumed."""

    suites: list[str]
    trials: int = 1
    concurrency: int = 4
    model: str | None = None
    prompt_overrides: dict[str, str] = field(default_factory=dict)
    prompt_pins: dict[str, int] = field(default_factory=dict)
    prompt_label: str | None = None
    source_workspace: str = "ws_demo"
    run_id: str = field(default_factory=lambda: new_id("evalrun"))

    def save(self, run_dir: Path) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "run.json").write_text(json.dumps(asdict(self), indent=2), "utf-8")

    @classmethod
    def load(cls, run_dir: Path) -> RunConfig:
        return cls(**json.loads((run_dir / "run.json").read_text("utf-8")))


@dataclass
class RunOutcome:
    """Everything the reports are made from."""

    config: RunConfig
    suites: list[Suite]
    results: list[TrialResult]
    model: str
    prompt_versions: dict[str, int]
    knowledge_version: str
    prices: dict[str, float | None]
    workspace_id: str = ""


def result_path(run_dir: Path, suite: str, case: str, trial: int) -> Path:
    return run_dir / RESULTS / suite / f"{case}.{trial}.json"


def done_results(run_dir: Path) -> dict[str, TrialResult]:
    """Results already in the run directory (a resumed run skips them)."""
    found: dict[str, TrialResult] = {}
    for path in sorted((run_dir / RESULTS).glob("*/*.json")):
        result = TrialResult.from_json(json.loads(path.read_text("utf-8")))
        found[result.key] = result
    return found


def _write_result(run_dir: Path, result: TrialResult) -> None:
    path = result_path(run_dir, result.suite, result.case, result.trial)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.as_json(), ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp, path)  # a result file is either whole or absent


async def run_evals(
    deps: AgentDeps,
    config: RunConfig,
    run_dir: Path,
    customer_model: BaseChatModel | None = None,
    judge_model: BaseChatModel | None = None,
    progress: bool = True,
    on_result: Callable[[TrialResult], None] | None = None,
    stop: asyncio.Event | None = None,
) -> RunOutcome:
    """Run every (suite, case, trial) not yet in ``run_dir``; results are written as they end.

    Once ``stop`` is set no new trial starts; running ones finish (a graceful interrupt)."""
    suites = [load_suite(Path(p)) for p in config.suites]
    config.save(run_dir)
    now = deps.clock()
    workspace_id = await clone_workspace(
        deps, config.source_workspace, now, config.prompt_overrides, (), config.prompt_pins
    )
    await warm_up(deps, workspace_id)
    done = done_results(run_dir)
    jobs: list[tuple[Suite, Case, int]] = [
        (s, c, t)
        for s in suites
        for c in s.cases
        for t in range(1, config.trials + 1)
        if f"{s.name}/{c.id}#{t}" not in done
    ]
    ctx = TrialContext(
        deps, workspace_id, config.run_id, config.prompt_overrides, customer_model, judge_model
    )
    gate = asyncio.Semaphore(max(1, config.concurrency))
    bar = tqdm(total=len(jobs), desc="eval", unit="trial", disable=not progress)

    async def one(suite: Suite, case: Case, trial: int) -> None:
        async with gate:
            if stop is not None and stop.is_set():
                return
            result = await run_trial(suite, case, trial, ctx)
        _write_result(run_dir, result)
        bar.update(1)
        bar.set_postfix_str(f"{case.id}: {result.status}")
        if on_result is not None:
            on_result(result)

    try:
        await asyncio.gather(*(one(*job) for job in jobs))
    finally:
        bar.close()
    versions = await prompt_versions(deps, workspace_id)
    kb_version = await knowledge_version(deps, workspace_id)
    await drop_workspace_index(deps, workspace_id)
    results = list(done_results(run_dir).values())
    wanted = {f"{s.name}/{c.id}#{t}" for s, c, t in _all_jobs(suites, config.trials)}
    settings = deps.settings
    return RunOutcome(
        config=config,
        suites=suites,
        results=[r for r in results if r.key in wanted],
        model=deps.model_name,
        prompt_versions=versions,
        knowledge_version=kb_version,
        prices={
            "input_per_1k": settings.eval_price_per_1k_input_tokens,
            "output_per_1k": settings.eval_price_per_1k_output_tokens,
        },
        workspace_id=workspace_id,
    )


def _all_jobs(suites: list[Suite], trials: int) -> list[tuple[Suite, Case, int]]:
    return [(s, c, t) for s in suites for c in s.cases for t in range(1, trials + 1)]


def outcome_summary(outcome: RunOutcome) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for r in outcome.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    return counts

"""Eval runs started through the API: stored as rows, run in the background one at a time
(or as many as configured), each on a throwaway copy of the caller's workspace."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from agent_service.agent.deps import AgentDeps
from agent_service.core.ids import new_id
from agent_service.db import models
from agent_service.evals.compare import gate
from agent_service.evals.environment import PromptVersionNotFound
from agent_service.evals.report import build_report
from agent_service.evals.runner import RunConfig, run_evals
from agent_service.evals.suite import SuiteError, load_suite, resolve_suites
from agent_service.prompts.templates import validate
from agent_service.schemas.evals import EvalRunCreate

log = logging.getLogger("agent_service.evals")


class EvalRunQueue:
    """Keeps the background tasks referenced and bounds how many runs go at once."""

    def __init__(self, deps: AgentDeps) -> None:
        self.deps = deps
        self.tasks: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(deps.settings.eval_max_concurrent_runs)

    async def start(self, workspace_id: str, request: EvalRunCreate) -> models.EvalRun:
        """Check the request (SuiteError / PromptError say what is wrong), store it, start it."""
        paths = resolve_suites(
            [s for s in request.suites if "/" not in s and ".." not in s],
            self.deps.settings.evals_dir,
        )
        if len(paths) != len(request.suites):
            raise SuiteError("suite names are plain names of files under evals/, e.g. 'faq'")
        for path in paths:
            load_suite(path)
        for name, body in request.prompt_overrides.items():
            validate(name, body)
        await self._check_pins(workspace_id, request.prompt_versions)
        row = models.EvalRun(
            id=new_id("evalrun"),
            workspace_id=workspace_id,
            status="queued",
            request=request.model_dump(),
            created_at=self.deps.clock(),
        )
        async with self.deps.sessions() as session, session.begin():
            session.add(row)
        config = RunConfig(
            suites=[str(p) for p in paths],
            trials=request.trials,
            concurrency=request.concurrency,
            prompt_overrides=request.prompt_overrides,
            prompt_pins=request.prompt_versions,
            prompt_label=_label(request),
            source_workspace=workspace_id,
            run_id=row.id,
        )
        task = asyncio.create_task(self._run(row.id, config))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return row

    async def _check_pins(self, workspace_id: str, pins: dict[str, int]) -> None:
        async with self.deps.sessions() as session:
            for name, version in pins.items():
                found = await session.scalar(
                    select(models.PromptVersion).filter_by(
                        workspace_id=workspace_id, name=name, version=version
                    )
                )
                if found is None:
                    raise PromptVersionNotFound(f"this workspace has no prompt {name}@{version}")

    async def shutdown(self) -> None:
        """Stop runs still going when the service stops; they are marked failed."""
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _run(self, run_id: str, config: RunConfig) -> None:
        try:
            await self._run_gated(run_id, config)
        except asyncio.CancelledError:
            await self._set(run_id, status="failed", error="interrupted: the service stopped")
            raise

    async def _run_gated(self, run_id: str, config: RunConfig) -> None:
        async with self._gate:
            await self._set(run_id, status="running")
            try:
                run_dir = self.deps.settings.data_dir / "eval-runs" / run_id
                outcome = await run_evals(self.deps, config, run_dir, progress=False)
                report = build_report(outcome)
                verdict = gate(report)
                summary = {
                    "metrics": report["metrics"],
                    "suites": {s["name"]: s["metrics"]["pass_rate"] for s in report["suites"]},
                    "gate": verdict.as_json(),
                }
                await self._set(
                    run_id,
                    status="completed",
                    summary=summary,
                    report=report,
                    eval_workspace_id=outcome.workspace_id,
                )
            except Exception as exc:  # stored on the run, for QA to read
                log.exception("eval run %s failed", run_id)
                await self._set(run_id, status="failed", error=f"{type(exc).__name__}: {exc}")

    async def _set(self, run_id: str, **values: object) -> None:
        async with self.deps.sessions() as session, session.begin():
            row = await session.get(models.EvalRun, run_id)
            assert row is not None
            for key, value in values.items():
                setattr(row, key, value)
            if values.get("status") in ("completed", "failed"):
                row.finished_at = self.deps.clock()


def _label(request: EvalRunCreate) -> str | None:
    parts = [f"{n}@{v}" for n, v in request.prompt_versions.items()]
    parts += [f"{n}=(override)" for n in request.prompt_overrides]
    return ", ".join(parts) or None

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from agent_service.api.deps import AgentDepsDep, SessionDep, require
from agent_service.api.errors import ERROR_RESPONSES, ErrorBody, InvalidBody
from agent_service.core.config import Settings
from agent_service.db import models
from agent_service.evals.compare import gate
from agent_service.evals.html_report import render_html
from agent_service.evals.run_queue import EvalRunQueue
from agent_service.evals.runner import RESULTS
from agent_service.schemas.evals import (
    EvalRunComparison,
    EvalRunCreate,
    EvalRunPage,
    EvalRunPublic,
    EvalRunResults,
)
from agent_service.workspaces.api_keys import Principal

router = APIRouter(prefix="/v1/evals", tags=["evals"])
QaKey = Annotated[Principal, Depends(require("qa"))]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such eval run in this workspace."}
}


async def _queue(request: Request, deps: AgentDepsDep) -> EvalRunQueue:
    queue: EvalRunQueue | None = getattr(request.app.state, "eval_runs", None)
    if queue is None:
        queue = request.app.state.eval_runs = EvalRunQueue(deps)
    return queue


NOT_FINISHED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "The run has not finished yet."}
}


def _trials_done(settings: Settings, row: models.EvalRun) -> int | None:
    """Trials finished so far by a running run: its result files (one a trial, written as each
    trial ends), on the replica whose data directory runs it."""
    if row.status != "running":
        return None
    results = settings.data_dir / "eval-runs" / row.id / RESULTS
    return sum(1 for _ in results.glob("*/*.json")) if results.is_dir() else 0


def _public(row: models.EvalRun, settings: Settings | None = None) -> EvalRunPublic:
    return EvalRunPublic(
        id=row.id,
        status=row.status,
        suites=row.request.get("suites", []),
        trials=row.request.get("trials", 1),
        summary=row.summary,
        error=row.error,
        trials_done=_trials_done(settings, row) if settings is not None else None,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


async def _run(session: SessionDep, principal: Principal, run_id: str) -> models.EvalRun:
    row = await session.scalar(
        select(models.EvalRun).filter_by(id=run_id, workspace_id=principal.workspace_id)
    )
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no eval run '{run_id}' in this workspace")
    return row


@router.post(
    "/runs",
    response_model=EvalRunPublic,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **ERROR_RESPONSES,
        422: {
            "model": InvalidBody,
            "description": "Unknown suite, invalid prompt override or unknown prompt version.",
        },
    },
)
async def create_eval_run(
    body: EvalRunCreate, principal: QaKey, queue: Annotated[EvalRunQueue, Depends(_queue)]
) -> EvalRunPublic:
    """Start running suites on a throwaway copy of this workspace (production contacts are
    never touched). Poll `GET /v1/evals/runs/{id}` until it is `completed`."""
    return _public(await queue.start(principal.workspace_id, body))


@router.get("/runs", response_model=EvalRunPage, responses=ERROR_RESPONSES)
async def list_eval_runs(
    principal: QaKey,
    session: SessionDep,
    deps: AgentDepsDep,
    limit: Annotated[int, Query(ge=1, le=200, description="The latest this many.")] = 50,
) -> EvalRunPage:
    """This workspace's eval runs, newest first, with their status and summary."""
    rows = await session.scalars(
        select(models.EvalRun)
        .filter_by(workspace_id=principal.workspace_id)
        .order_by(models.EvalRun.created_at.desc(), models.EvalRun.id.desc())
        .limit(limit)
    )
    return EvalRunPage(items=[_public(row, deps.settings) for row in rows])


@router.get(
    "/runs/{run_id}", response_model=EvalRunPublic, responses={**ERROR_RESPONSES, **NOT_FOUND}
)
async def get_eval_run(
    run_id: str, principal: QaKey, session: SessionDep, deps: AgentDepsDep
) -> EvalRunPublic:
    """The run's status (while running: the trials finished so far); once finished, its
    metrics and gate verdict."""
    return _public(await _run(session, principal, run_id), deps.settings)


@router.get(
    "/runs/{run_id}/results",
    response_model=EvalRunResults,
    responses={
        **ERROR_RESPONSES,
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "The run has not finished yet."},
    },
)
async def get_eval_run_results(
    run_id: str, principal: QaKey, session: SessionDep
) -> EvalRunResults:
    """The full report: per-case results with transcripts, tool calls and failures."""
    row = await _run(session, principal, run_id)
    return EvalRunResults(id=row.id, status=row.status, report=_report(row))


@router.get(
    "/runs/{run_id}/report.html",
    # No response_class: it would document the errors (JSON) as text/html too.
    responses={
        **ERROR_RESPONSES,
        **NOT_FOUND,
        **NOT_FINISHED,
        200: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "The report as one self-contained HTML page.",
        },
    },
)
async def get_eval_run_html(run_id: str, principal: QaKey, session: SessionDep) -> HTMLResponse:
    """The HTML report of a finished run (the CLI's `report.html`): summary, pass^k chart and
    every case with its transcript; one self-contained page."""
    row = await _run(session, principal, run_id)
    return HTMLResponse(render_html(_report(row)))


@router.get(
    "/runs/{run_id}/compare",
    response_model=EvalRunComparison,
    responses={**ERROR_RESPONSES, **NOT_FOUND, **NOT_FINISHED},
)
async def compare_eval_runs(
    run_id: str,
    principal: QaKey,
    session: SessionDep,
    baseline: Annotated[str, Query(description="The id of the finished run to compare with.")],
) -> EvalRunComparison:
    """This run against a baseline run (as `agent-service eval compare`): the cases that
    regressed or improved, every metric's change, and the gate with the baseline."""
    row = await _run(session, principal, run_id)
    base = await _run(session, principal, baseline)
    verdict = gate(_report(row), _report(base))
    comparison = verdict.comparison
    assert comparison is not None  # gate() compares whenever it is given a baseline
    return EvalRunComparison(
        id=row.id,
        baseline=base.id,
        passed=verdict.passed,
        reasons=verdict.reasons,
        regressions=comparison.regressions,
        improvements=comparison.improvements,
        metric_deltas=comparison.metric_deltas,
    )


def _report(row: models.EvalRun) -> dict[str, Any]:
    if row.report is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"eval run '{row.id}' is {row.status}; results exist once it is completed",
        )
    return row.report

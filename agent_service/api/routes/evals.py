from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlalchemy import select

from agent_service.api.deps import AgentDepsDep, SessionDep, require
from agent_service.api.errors import ERROR_RESPONSES, ErrorBody, InvalidBody
from agent_service.db import models
from agent_service.evals.run_queue import EvalRunQueue
from agent_service.schemas.evals import EvalRunCreate, EvalRunPublic, EvalRunResults
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


def _public(row: models.EvalRun) -> EvalRunPublic:
    return EvalRunPublic(
        id=row.id,
        status=row.status,
        suites=row.request.get("suites", []),
        trials=row.request.get("trials", 1),
        summary=row.summary,
        error=row.error,
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


@router.get(
    "/runs/{run_id}", response_model=EvalRunPublic, responses={**ERROR_RESPONSES, **NOT_FOUND}
)
async def get_eval_run(run_id: str, principal: QaKey, session: SessionDep) -> EvalRunPublic:
    """The run's status; once finished, its metrics and gate verdict."""
    return _public(await _run(session, principal, run_id))


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
    if row.report is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            f"eval run '{run_id}' is {row.status}; results exist once it is completed",
        )
    return EvalRunResults(id=row.id, status=row.status, report=row.report)

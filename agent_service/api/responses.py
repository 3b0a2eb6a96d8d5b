"""Documented error responses for the admin endpoints (each says what to fix in ``detail``)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse

from agent_service.api.errors import ERROR_RESPONSES, ErrorBody, InvalidBody

Responses = dict[int | str, dict[str, Any]]


def documented(
    *, not_found: str | None = None, conflict: str | None = None, invalid: str | None = None
) -> Responses:
    """401/403/413 always (any body can be too large), plus the 404/409/422 cases."""
    found: Responses = dict(ERROR_RESPONSES)
    if not_found:
        found[404] = {"model": ErrorBody, "description": not_found}
    if conflict:
        found[409] = {"model": ErrorBody, "description": conflict}
    if invalid:
        found[422] = {"model": InvalidBody, "description": invalid}
    return found


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"{what} not found in this workspace")


def conflict(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_409_CONFLICT, detail)


def invalid(detail: str) -> HTTPException:
    return HTTPException(422, detail)


async def index_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": f"{exc}; nothing was stored, retry later or run a re-index"}, status_code=503
    )

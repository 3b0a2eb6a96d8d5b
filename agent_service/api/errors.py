"""Error bodies, the documented error responses, the error handlers and the limit on request size.

Every error body says what to fix in ``detail``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import HTTPException, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent_service.core.errors import Conflict, DomainError, Invalid, NotFound
from agent_service.db.availability import RETRY_AFTER_SECONDS, is_unavailable

log = logging.getLogger("agent_service.api")


class ErrorBody(BaseModel):
    """What went wrong and what to fix."""

    detail: str


class InvalidBody(BaseModel):
    """A 422: the request's own validation errors (a list, one per field) or a sentence."""

    detail: str | list[dict[str, Any]]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, unknown or revoked API key."},
    403: {"model": ErrorBody, "description": "The key lacks the role for this endpoint."},
    413: {"model": ErrorBody, "description": "The body or the text is too large."},
}

DATABASE_BUSY: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "The database could not be reached or was too busy: nothing was stored; "
        "send the same request again after Retry-After. (Also: a repeat delivery whose first "
        "delivery is still being answered.)",
        "headers": {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        },
    }
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorBody,
        "description": "Too many new messages for this workspace or contact; see Retry-After.",
        "headers": {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}
        },
    }
}

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


async def http_error(request: Request, exc: Exception) -> Response:
    """FastAPI answers an undecodable body (not UTF-8) with 400; it is a malformed body: 422."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
        # Shaped like FastAPI's own 422 (HTTPValidationError), as the OpenAPI spec documents.
        problem = {
            "loc": ["body"],
            "msg": "the body could not be parsed: send a JSON object in UTF-8",
            "type": "json_invalid",
        }
        return JSONResponse({"detail": [problem]}, status_code=422)
    return await http_exception_handler(request, exc)


# Each kind of domain refusal and its status code; the body is ``{"detail": exc.detail}``.
DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, status.HTTP_404_NOT_FOUND),
    (Conflict, status.HTTP_409_CONFLICT),
    (Invalid, status.HTTP_422_UNPROCESSABLE_CONTENT),
)


TURN_PATHS = frozenset({"/v1/messages"})


async def domain_error(request: Request, exc: Exception) -> Response:
    """A refusal from the domain, answered as the routes answered it when they caught it."""
    assert isinstance(exc, DomainError)
    code = next((code for kind, code in DOMAIN_STATUS if isinstance(exc, kind)), None)
    if code is None:  # a new kind without a status: a bug, not the caller's fault
        raise exc
    if request.url.path in TURN_PATHS:
        # The message was valid and is stored; a refusal from inside its turn (a broken stored
        # prompt, say) is the service's fault: a 5xx, so the platform retries, as before.
        raise exc
    return JSONResponse(ErrorBody(detail=exc.detail).model_dump(), status_code=code)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """The database could not be reached or stayed busy past its timeout (a full pool, a
    server at its connection limit, SQLite locked): 503 with Retry-After, not a 500; nothing
    was stored, so the same request may simply come again. Any other database error is a bug:
    re-raised, a 500."""
    if not is_unavailable(exc):
        raise exc
    log.warning(
        "database unavailable: answered 503",
        extra={"fields": {"path": request.url.path, "error": repr(exc)[:300]}},
    )
    return JSONResponse(
        ErrorBody(
            detail="the database is too busy to take this request now; nothing was stored: "
            f"send it again after {RETRY_AFTER_SECONDS} s"
        ).model_dump(),
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def index_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": f"{exc}; nothing was stored, retry later or run a re-index"}, status_code=503
    )


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413 before they are read into memory."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: dict[str, int] | None = None
    ) -> None:
        self.app, self.default_max = app, max_bytes
        # Larger bodies for some path prefixes (knowledge imports).
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        max_bytes = next(
            (n for prefix, n in self.path_limits.items() if path.startswith(prefix)),
            self.default_max,
        )
        declared = dict(scope.get("headers") or {}).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await self._too_large(send, max_bytes)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(send, max_bytes)

    async def _too_large(self, send: Send, max_bytes: int) -> None:
        body = ErrorBody(detail=f"request body is larger than {max_bytes} bytes").model_dump_json()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})


class _TooLarge(Exception):
    pass

"""Our log plumbing against the libraries that could replace it (docs/operations.md, "Logs").

1. A JSON log line: core/logs.py's ``JsonFormatter`` against python-json-logger's
   ``JsonFormatter`` given the same job (the same keys, ``fields`` flattened, phones and
   e-mails redacted). CPU microseconds per line (this process's CPU time: the other work on a
   shared machine does not count), best of seven runs.
2. The request id: api/request_id.py's ``RequestId`` (which also writes the access line)
   against asgi-correlation-id's ``CorrelationIdMiddleware`` plus the same access line, on a
   trivial ASGI app. CPU microseconds per request, best of seven runs.

Prints each figure beside the other (the baseline, measured in the same run) and the load
average; exits non-zero when ours costs more than 1.1 x the library's (the target: a library
that does the same job for less would replace ours). Needs python-json-logger and
asgi-correlation-id installed (they are not dependencies of the service).

    python -m bench.logs
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from agent_service.api.request_id import RequestId
from agent_service.core.logs import JsonFormatter, _redact_value, redact

LINES = 20_000
REQUESTS = 20_000


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f}/{five:.2f} on {os.cpu_count()} cores"


def best_of_both(ours: Callable[[], float], theirs: Callable[[], float]) -> tuple[float, float]:
    """Each one's best of seven runs, the two interleaved: a burst of load from elsewhere on
    the machine falls on both alike."""
    mine, library = [], []
    for _ in range(7):
        mine.append(ours())
        library.append(theirs())
    return min(mine), min(library)


def records() -> list[logging.LogRecord]:
    made = []
    for i in range(LINES):
        record = logging.LogRecord(
            "agent_service.turn", logging.INFO, __file__, 1, "turn", None, None
        )
        record.fields = {
            "turn_id": f"turn_{i:020x}",
            "workspace_id": "ws_demo",
            "brain": "llm",
            "model_calls": 2,
            "latency_ms": 412.5,
            "text": "call me on +84 901 234 567 about the facial",
            "tool_calls": [{"name": "update_contact_fields", "status": "applied"}],
        }
        made.append(record)
    return made


def library_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter as Library

    class Redacting(Library):
        """python-json-logger doing what ours does: same keys, fields flattened, redacted."""

        def add_fields(
            self, log_data: dict[str, Any], record: logging.LogRecord, message: dict[str, Any]
        ) -> None:
            log_data["ts"] = self.formatTime(record)
            log_data["level"] = record.levelname.lower()
            log_data["logger"] = record.name
            log_data["event"] = redact(record.getMessage())
            log_data["pid"] = record.process
            fields = getattr(record, "fields", None)
            if isinstance(fields, dict):
                log_data.update(_redact_value(fields))

    return Redacting(json_ensure_ascii=False, reserved_attrs=[*vars(records()[0])])


def per_line(formatter: logging.Formatter, made: list[logging.LogRecord]) -> float:
    started = time.process_time()
    for record in made:
        formatter.format(record)
    return (time.process_time() - started) / len(made) * 1e6


async def trivial(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def library_middleware() -> Any:
    from asgi_correlation_id import CorrelationIdMiddleware

    access = logging.getLogger("agent_service.http")

    async def logged(scope: Any, receive: Any, send: Any) -> None:
        started = time.perf_counter()
        await trivial(scope, receive, send)
        access.info(
            "http request",
            extra={
                "fields": {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": 200,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                }
            },
        )

    # Its default validator takes UUID4s only; messaging layers send ids like "req-abc.123".
    return CorrelationIdMiddleware(logged, validator=None)


def per_request(app: Any) -> float:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/healthz",
        "headers": [(b"x-request-id", b"req-abc.123")],
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def run() -> float:
        started = time.process_time()
        for _ in range(REQUESTS):
            await app(scope, receive, send)
        return (time.process_time() - started) / REQUESTS * 1e6

    return asyncio.run(run())


def main() -> int:
    sink = logging.getLogger("agent_service")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    sink.handlers[:] = [handler]
    sink.setLevel(logging.INFO)
    sink.propagate = False

    made = records()
    ours_line, theirs_line = best_of_both(
        lambda: per_line(JsonFormatter(), made), lambda: per_line(library_formatter(), made)
    )
    ours_request, theirs_request = best_of_both(
        lambda: per_request(RequestId(trivial)), lambda: per_request(library_middleware())
    )
    print(f"{time.strftime('%Y-%m-%d %H:%M')}  {load()}")
    print(
        f"JSON line, redacted:  ours {ours_line:.1f} us  python-json-logger {theirs_line:.1f} us "
        f"= {ours_line / theirs_line:.2f} x (target: <= 1.10 x)"
    )
    print(
        f"request id + access line:  ours {ours_request:.1f} us  asgi-correlation-id "
        f"{theirs_request:.1f} us = {ours_request / theirs_request:.2f} x (target: <= 1.10 x)"
    )
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("(the machine was busy: CPU time is measured, not wall time, to stay fair)")
    if ours_line > 1.1 * theirs_line or ours_request > 1.1 * theirs_request:
        print("CHECK FAILED: a library does the same job for less: use it")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Structured logs: one JSON object a line, with the request id (and, while a span is active,
the trace and span ids), phone numbers and e-mails redacted (OWASP LLM02: logs are read by
more people than conversations are).

Our own formatter rather than python-json-logger or structlog: the redaction and the
``extra={"fields": {...}}`` convention are the point of it, python-json-logger given the same
job needs a subclass doing both (no less code of ours) and costs the same CPU time a line
(bench/logs.py)."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from agent_service.core.tracing import current_ids

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Seven to fifteen digits, optionally with +, spaces, dots, dashes or brackets between them.
PHONE = re.compile(r"(?<![\w.])\+?\(?\d(?:[\s().-]{0,2}\d){6,14}(?!\w)")


def redact(text: str) -> str:
    return PHONE.sub("[phone]", EMAIL.sub("[email]", text))


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """``log.info("turn", extra={"fields": {...}})`` becomes one redacted JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            # The log timestamp is the one place the wall clock is right: it says when it ran.
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": redact(record.getMessage()),
            # Which process wrote it: with `serve --workers N` the lines of N processes mix.
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        ids = current_ids()
        if ids is not None:
            entry["trace_id"], entry["span_id"] = ids
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(_redact_value(fields))
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    level: str = "INFO", as_json: bool = True, stream: IO[str] | None = None
) -> None:
    """Route the ``agent_service`` loggers to one handler (replacing an earlier one)."""
    logger = logging.getLogger("agent_service")
    for handler in list(logger.handlers):
        if getattr(handler, "_agent_service", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._agent_service = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter() if as_json else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    logger.addHandler(handler)
    logger.setLevel(level.upper())

"""When the request being served arrived, on the monotonic clock (``time.monotonic``, which is
also the event loop's clock): set by the API's outermost middleware (api/request_id.py), read
by the intake (conversations/intake.py) to charge a message's rate limits as of its arrival,
however long a busy event loop or a slow store kept it from being stored."""

from __future__ import annotations

from contextvars import ContextVar

request_started: ContextVar[float | None] = ContextVar("request_started", default=None)

"""When the database cannot take a request now, as opposed to a request it refused.

A pool with no free connection past its timeout, a server at its connection limit or starting
up, a connection lost, SQLite busy past its timeout: nothing was stored, and the same request
may succeed in a moment. The API answers these with 503 and Retry-After (api/errors.py) instead
of a 500, and the intake does not store such a batch again one delivery at a time
(conversations/intake.py): each would wait out the same timeout again.
"""

from __future__ import annotations

from sqlalchemy import exc

# SQLSTATE classes and codes of a server that cannot serve now: 08 connection exception,
# 53 insufficient resources (53300 too many connections), 57P01-57P03 shutting down or starting.
_UNAVAILABLE_STATES = ("08", "53", "57P01", "57P02", "57P03")


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` says the database could not be reached or was too busy (retry)."""
    if isinstance(error, exc.TimeoutError):  # the pool had no connection for us in time
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if isinstance(error, exc.OperationalError) and "database is locked" in str(error.orig):
        return True  # SQLite: another writer past the busy timeout
    cause: BaseException | None = error.orig
    seen = 0
    while cause is not None and seen < 8:
        state = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(state, str) and state.startswith(_UNAVAILABLE_STATES):
            return True
        if isinstance(cause, (ConnectionError, TimeoutError)) or (
            isinstance(cause, OSError) and not isinstance(cause, exc.SQLAlchemyError)
        ):
            return True
        cause, seen = cause.__cause__ or cause.__context__, seen + 1
    return False


RETRY_AFTER_SECONDS = 5

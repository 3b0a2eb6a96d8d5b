"""Datetimes as the database hands them back, made aware (UTC).

SQLite returns aggregates and window functions over a timestamp (``max(sent_at)``) as text,
and naive values where no column type converts them; PostgreSQL returns aware values. Every
stored time is UTC, so a naive one is UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def stored_datetime(value: Any) -> datetime | None:
    """The aware UTC datetime of a value the database returned (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stored_datetime_required(value: Any) -> datetime:
    """As ``stored_datetime``, for a value that cannot be None."""
    found = stored_datetime(value)
    assert found is not None
    return found

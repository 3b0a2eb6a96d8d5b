"""What every report is asked for: a period and filters, turned into SQL scopes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, exists, func, select

from agent_service.db import models

Q = TypeVar("Q")


@dataclass(frozen=True)
class ReportQuery:
    """A period [start, end) in UTC and optional filters on where contacts came from."""

    workspace_id: str
    start: datetime | None
    end: datetime | None
    channel: str | None = None
    campaign: str | None = None
    team: str | None = None

    @property
    def filtered(self) -> bool:
        return any((self.channel, self.campaign, self.team))

    def in_period(self, column: Any) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.start is not None:
            conditions.append(column >= self.start)
        if self.end is not None:
            conditions.append(column < self.end)
        return conditions

    def contact_filter(self, contact_id: Any) -> list[ColumnElement[bool]]:
        """Conditions keeping only contacts from the channel/campaign, or handed to the team."""
        conditions: list[ColumnElement[bool]] = []
        if self.channel is not None or self.campaign is not None:
            source = select(models.ContactSource.contact_id).where(
                models.ContactSource.workspace_id == self.workspace_id
            )
            if self.channel is not None:
                source = source.where(models.ContactSource.channel == self.channel)
            if self.campaign is not None:
                source = source.where(models.ContactSource.campaign == self.campaign)
            conditions.append(contact_id.in_(source))
        if self.team is not None:
            conditions.append(
                exists().where(
                    models.Handoff.contact_id == contact_id, models.Handoff.team == self.team
                )
            )
        return conditions

    def scoped(self, query: Q, contact_id: Any, created: Any) -> Q:
        """``query`` kept to the period (on ``created``) and the filtered contacts."""
        selected: Any = query
        return cast(Q, selected.where(*self.in_period(created), *self.contact_filter(contact_id)))


def as_datetime(value: Any) -> datetime | None:
    """Aggregates and window functions come back from SQLite as text; make them datetimes."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in 0..100) of unsorted values; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 2)


def seconds_between(later: Any, earlier: Any, dialect: str) -> Any:
    """Seconds from ``earlier`` to ``later``, computed in the database (no row parsing)."""
    if dialect == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)

"""What every report is asked for: a period and filters, turned into SQL scopes."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

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
        """Conditions keeping only contacts from the channel/campaign, or handed to the team.

        One IN list whatever the filters (the team's contacts nested inside the sources'): the
        database builds it once and each row costs one lookup in it.
        """
        src, ho = models.ContactSource, models.Handoff
        handed = select(ho.contact_id).where(ho.workspace_id == self.workspace_id)
        if self.team is not None:
            handed = handed.where(ho.team == self.team)
        if self.channel is None and self.campaign is None:
            return [] if self.team is None else [contact_id.in_(handed)]
        source = select(src.contact_id).where(src.workspace_id == self.workspace_id)
        if self.channel is not None:
            source = source.where(src.channel == self.channel)
        if self.campaign is not None:
            source = source.where(src.campaign == self.campaign)
        if self.team is not None:
            source = source.where(src.contact_id.in_(handed))
        return [contact_id.in_(source)]

    def rows(self, workspace_id: Any, contact_id: Any, created: Any) -> list[ColumnElement[bool]]:
        """The workspace's rows created in the period, of the filtered contacts if any.

        With a filter the workspace condition is left out on purpose (the contact list implies
        it): SQLite then reads the rows contact by contact through an index led by contact_id,
        instead of testing every row of the workspace against the list.
        """
        own = [] if self.filtered else [workspace_id == self.workspace_id]
        return [*own, *self.in_period(created), *self.contact_filter(contact_id)]

    def scoped(self, query: Q, contact_id: Any, created: Any) -> Q:
        """``query`` kept to the period (on ``created``) and the filtered contacts."""
        selected: Any = query
        return cast(Q, selected.where(*self.in_period(created), *self.contact_filter(contact_id)))


async def walked_percentiles(
    connection: AsyncConnection,
    value: Any,
    where: Sequence[ColumnElement[bool]],
    qs: Sequence[int] = (50, 90),
    n: int | None = None,
) -> tuple[int, list[float | None]]:
    """How many non-null ``value``s match ``where`` (unless given), and their percentiles,
    by linear interpolation.

    The rows never leave the database: a count, then for each percentile the two values around
    its rank (``ORDER BY value LIMIT 2 OFFSET k``, from whichever end is nearer), which an index
    led by the value walks in order. For a column with such an index and few other conditions.
    """
    conditions = [value.is_not(None), *where]
    if n is None:
        count = select(func.count()).select_from(value.table).where(*conditions)
        n = int(await connection.scalar(count) or 0)
    found: list[float | None] = []
    for q in qs:
        if not n:
            found.append(None)
            continue
        low, high = _ranks(n, q)
        ranked = select(value).where(*conditions)
        if low <= n - 1 - high:
            ranked = ranked.order_by(value).offset(low)
        else:  # the upper percentiles walk down from the top
            ranked = ranked.order_by(value.desc()).offset(n - 1 - high)
        pair = sorted(float(v) for v in (await connection.scalars(ranked.limit(high - low + 1))))
        found.append(_interpolated(n, q, pair[0], pair[-1]))
    return n, found


async def window_percentiles(
    connection: AsyncConnection,
    value: Any,
    source: Any,
    where: Sequence[ColumnElement[bool]],
    qs: Sequence[int] = (50, 90),
) -> tuple[int, list[float | None]]:
    """As ``walked_percentiles`` for a filtered set: one query numbers the
    matching values in order (a window function) and returns only the few around the ranks."""
    found = await partitioned_percentiles(connection, value, None, source, where, qs)
    return found.get(None, (0, [None] * len(qs)))


async def partitioned_percentiles(
    connection: AsyncConnection,
    value: Any,
    partition: Any,
    source: Any,
    where: Sequence[ColumnElement[bool]],
    qs: Sequence[int] = (50, 90),
) -> dict[Any, tuple[int, list[float | None]]]:
    """Count and percentiles of ``value`` for each ``partition`` value (one query, one sort)."""
    over = {"partition_by": partition} if partition is not None else {}
    numbered = (
        select(
            (partition if partition is not None else literal(None)).label("part"),
            value.label("v"),
            func.row_number().over(order_by=value, **over).label("rn"),
            func.count().over(**over).label("n"),
        )
        .select_from(source)
        .where(value.is_not(None), *where)
        .subquery()
    )
    # Integer division in both databases: the row numbers of floor((n - 1) * q / 100) (+1).
    lows = [((numbered.c.n - 1) * q).op("/")(100) for q in qs]
    picked = await connection.execute(
        select(numbered.c.part, numbered.c.v, numbered.c.rn, numbered.c.n).where(
            or_(
                *(numbered.c.rn - 1 == low for low in lows),
                *(numbered.c.rn - 2 == low for low in lows),
            )
        )
    )
    by_rank: dict[Any, dict[int, float]] = {}
    sizes: dict[Any, int] = {}
    for part, v, rn, total in picked.all():
        by_rank.setdefault(part, {})[int(rn) - 1] = float(v)
        sizes[part] = int(total)
    found: dict[Any, tuple[int, list[float | None]]] = {}
    for part, n in sizes.items():
        values: list[float | None] = []
        for q in qs:
            low, high = _ranks(n, q)
            values.append(_interpolated(n, q, by_rank[part][low], by_rank[part][high]))
        found[part] = (n, values)
    return found


async def percentiles_in_db(
    connection: AsyncConnection,
    query: ReportQuery,
    value: Any,
    where: Sequence[ColumnElement[bool]],
    n: int | None = None,
) -> tuple[int, list[float | None]]:
    """p50 and p90 of an indexed column: walked on the index for the whole workspace; with a
    contact filter numbered in one pass (walking would test the filter on most of the index)."""
    if query.filtered:
        return await window_percentiles(connection, value, value.table, where)
    return await walked_percentiles(connection, value, where, n=n)


def _ranks(n: int, q: int) -> tuple[int, int]:
    rank = (n - 1) * q / 100
    return math.floor(rank), math.ceil(rank)


def _interpolated(n: int, q: int, below: float, above: float) -> float:
    """Linear interpolation between the values around rank (n - 1) q / 100, rounded to 2
    decimals: the same arithmetic as the Python percentiles used before, to the last digit."""
    rank = (n - 1) * q / 100
    return round(below + (above - below) * (rank - math.floor(rank)), 2)


def month_of(column: Any, dialect: str) -> Any:
    """'YYYY-MM' of a UTC timestamp, in the database (grouping there, not row by row here)."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m", column)  # stored as UTC text
    return func.to_char(func.timezone("UTC", column), "YYYY-MM")

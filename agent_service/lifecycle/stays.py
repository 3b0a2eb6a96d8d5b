"""Stage stays: each stage change seen as a stay, the roll-up the funnel report reads.

One row per stage change with the time the contact's next change ended it, its length in
hours, the contact's previous entry into the same stage and the stages entered from then on.
``refresh_stays`` recomputes a contact's rows from its stage changes; it is the only writer,
called for every flush that touches stage changes (``report_rollups``), by the bulk history
generator and by the migration that created the table.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, insert, select

from agent_service.db import models


class Change(NamedTuple):
    """The parts of a stage change a stay needs."""

    id: str
    workspace_id: str
    contact_id: str
    kind: str
    to_stage: str
    actor: str
    created_at: datetime


def stays_of(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """The stay rows of one contact's changes, given in (created_at, id) order."""
    rows: list[dict[str, Any]] = []
    previous: dict[tuple[str, str], datetime] = {}
    for i, change in enumerate(changes):
        # The report's "next change": the first one strictly later (ties end nothing).
        left = next(
            (c.created_at for c in changes[i + 1 :] if c.created_at > change.created_at), None
        )
        later = {
            c.to_stage for c in changes if c.kind == "stage" and c.created_at >= change.created_at
        }
        key = (change.kind, change.to_stage)
        rows.append(
            {
                "stage_change_id": change.id,
                "workspace_id": change.workspace_id,
                "contact_id": change.contact_id,
                "kind": change.kind,
                "stage": change.to_stage,
                "actor": change.actor,
                "entered_at": change.created_at,
                "left_at": left,
                "hours": (left - change.created_at).total_seconds() / 3600 if left else None,
                # In (created_at, id) order, so of two entries at the same instant one counts.
                "previous_entry_at": previous.get(key),
                "later_stages": later_stages_text(sorted(later)),
            }
        )
        previous[key] = change.created_at
    return rows


def later_stages_text(stages: Iterable[str]) -> str:
    """Stage names as JSON strings side by side: a LIKE on one quoted name matches exactly."""
    return "".join(json.dumps(s) for s in stages)


def refresh_stays(connection: Connection, contact_ids: Collection[str]) -> int:
    """Recompute the stays of these contacts from their stage changes; returns rows written."""
    sc, stay = models.StageChange, models.StageStay
    written = 0
    ordered = sorted(contact_ids)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        if connection.dialect.name != "sqlite":  # SQLite has one writer at a time anyway
            # Two transactions refreshing one contact take turns, so the second sees the
            # first's stage change and stays once it committed.
            connection.execute(
                select(models.Contact.id)
                .where(models.Contact.id.in_(chunk))
                .order_by(models.Contact.id)
                .with_for_update()
            )
        connection.execute(delete(stay).where(stay.contact_id.in_(chunk)))
        changes = connection.execute(
            select(
                sc.id, sc.workspace_id, sc.contact_id, sc.kind, sc.to_stage, sc.actor, sc.created_at
            )
            .where(sc.contact_id.in_(chunk))
            .order_by(sc.contact_id, sc.created_at, sc.id)
        ).all()
        values = [
            row
            for _, group in groupby((Change(*c) for c in changes), key=lambda c: c.contact_id)
            for row in stays_of(list(group))
        ]
        if values:
            connection.execute(insert(stay), values)
        written += len(values)
    return written


def rebuild_stays(connection: Connection) -> int:
    """Every contact's stays from scratch (the migration's backfill)."""
    contact_ids = connection.scalars(select(models.StageChange.contact_id).distinct()).all()
    return refresh_stays(connection, contact_ids)

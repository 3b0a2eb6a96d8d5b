"""report roll-ups: stage stays, first replies, indexes for the reports; outbox URL of nudges

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 11:20:00
"""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby
from typing import Any, NamedTuple

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stage_stays",
        sa.Column("stage_change_id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=10), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("previous_entry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("later_stages", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("stage_change_id"),
    )
    op.create_index(
        "ix_stage_stays_contact",
        "stage_stays",
        ["contact_id", "stage", "kind", "entered_at", "previous_entry_at", "hours", "actor"]
        + ["later_stages"],
    )
    with op.batch_alter_table("contact_sources") as batch_op:
        batch_op.add_column(sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_response_seconds", sa.Float(), nullable=True))
    with op.batch_alter_table("handoffs") as batch_op:
        batch_op.add_column(sa.Column("minutes_after_first_message", sa.Float(), nullable=True))
    # Follow-up nudges to a legacy callback URL go through the retried outbox too.
    with op.batch_alter_table("callback_outbox") as batch_op:
        batch_op.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
    # Backfill before the report indexes exist: one index build is cheaper than 250k updates.
    # The roll-ups are computed as the service computed them at this revision (a copy, so a
    # later change to the service cannot change what this migration does).
    bind = op.get_bind()
    _rebuild_stays(bind)
    _backfill_first_replies(bind)
    _backfill_handoff_minutes(bind)
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    for name, (table, columns) in WIDER_INDEXES.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns)


INDEXES = [
    (
        "ix_stage_stays_entries",
        "stage_stays",
        ["workspace_id", "stage", "entered_at", "previous_entry_at", "kind", "hours"]
        + ["contact_id", "later_stages"],
    ),
    (
        "ix_stage_stays_hours",
        "stage_stays",
        ["workspace_id", "stage", "hours", "entered_at", "kind", "contact_id"],
    ),
    ("ix_turns_ws_latency", "turns", ["workspace_id", "latency_ms", "created_at", "contact_id"]),
    ("ix_turns_contact_latency", "turns", ["contact_id", "created_at", "latency_ms"]),
    (
        "ix_contact_sources_ws_response",
        "contact_sources",
        ["workspace_id", "first_response_seconds", "first_message_at", "contact_id"],
    ),
    (
        "ix_contact_sources_ws_first",
        "contact_sources",
        ["workspace_id", "first_message_at", "channel", "campaign", "first_response_seconds"]
        + ["contact_id"],
    ),
    (
        "ix_contact_sources_ws_channel",
        "contact_sources",
        ["workspace_id", "channel", "campaign", "contact_id"],
    ),
    (
        "ix_contact_sources_ws_campaign",
        "contact_sources",
        ["workspace_id", "campaign", "contact_id"],
    ),
    ("ix_handoffs_ws_team", "handoffs", ["workspace_id", "team", "contact_id"]),
    ("ix_stage_stays_actor", "stage_stays", ["workspace_id", "actor", "kind", "entered_at"]),
    ("ix_contacts_ws_created", "contacts", ["workspace_id", "created_at", "id"]),
    ("ix_contacts_id_created", "contacts", ["id", "created_at"]),
    (
        "ix_handoffs_ws_minutes",
        "handoffs",
        ["workspace_id", "minutes_after_first_message", "created_at", "contact_id"],
    ),
    (
        "ix_stage_changes_ws_kind",
        "stage_changes",
        ["workspace_id", "kind", "created_at", "to_stage", "from_stage"],
    ),
]

# Report indexes of 0005, widened to cover their queries (same names).
WIDER_INDEXES = {
    "ix_contacts_ws_stage": ("contacts", ["workspace_id", "lifecycle_stage", "updated_at", "id"]),
    "ix_contacts_ws_updated": ("contacts", ["workspace_id", "updated_at", "lifecycle_stage", "id"]),
    "ix_handoffs_ws_created": (
        "handoffs",
        ["workspace_id", "created_at", "contact_id", "team", "minutes_after_first_message"],
    ),
}


def downgrade() -> None:
    for name, (table, columns) in WIDER_INDEXES.items():
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns[:2])
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("contact_sources") as batch_op:
        batch_op.drop_column("first_response_seconds")
        batch_op.drop_column("first_reply_at")
    with op.batch_alter_table("handoffs") as batch_op:
        batch_op.drop_column("minutes_after_first_message")
    with op.batch_alter_table("callback_outbox") as batch_op:
        batch_op.drop_column("callback_url")
    op.drop_table("stage_stays")


# --- The tables as they are at this revision, and the roll-ups computed from them ---------

_stage_changes = sa.table(
    "stage_changes",
    *(sa.column(c) for c in ("id", "workspace_id", "contact_id", "kind", "to_stage", "actor")),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_stage_stays = sa.table(
    "stage_stays",
    *(sa.column(c) for c in ("stage_change_id", "workspace_id", "contact_id", "kind", "stage")),
    *(sa.column(c) for c in ("actor", "hours", "later_stages")),
    *(sa.column(c, sa.DateTime(timezone=True)) for c in ("entered_at", "left_at")),
    sa.column("previous_entry_at", sa.DateTime(timezone=True)),
)
_messages = sa.table(
    "messages",
    sa.column("contact_id"),
    sa.column("direction"),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_sources = sa.table(
    "contact_sources",
    sa.column("contact_id"),
    sa.column("first_message_at", sa.DateTime(timezone=True)),
    sa.column("first_reply_at", sa.DateTime(timezone=True)),
    sa.column("first_response_seconds"),
)
_handoffs = sa.table(
    "handoffs",
    sa.column("id"),
    sa.column("contact_id"),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("minutes_after_first_message"),
)


class _Change(NamedTuple):
    id: str
    workspace_id: str
    contact_id: str
    kind: str
    to_stage: str
    actor: str
    created_at: Any


def _aware(value: Any) -> datetime | None:
    """SQLite hands aggregates back as text and timestamps without a zone: both are UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stays_of(changes: list[Any]) -> list[dict[str, Any]]:
    """One contact's stay rows from its changes in (created_at, id) order."""
    rows: list[dict[str, Any]] = []
    previous: dict[tuple[str, str], datetime] = {}
    for i, change in enumerate(changes):
        at = change.created_at
        left = next((c.created_at for c in changes[i + 1 :] if c.created_at > at), None)
        later = sorted({c.to_stage for c in changes if c.kind == "stage" and c.created_at >= at})
        key = (change.kind, change.to_stage)
        rows.append(
            {
                "stage_change_id": change.id,
                "workspace_id": change.workspace_id,
                "contact_id": change.contact_id,
                "kind": change.kind,
                "stage": change.to_stage,
                "actor": change.actor,
                "entered_at": at,
                "left_at": left,
                "hours": (left - at).total_seconds() / 3600 if left else None,
                "previous_entry_at": previous.get(key),
                "later_stages": "".join(json.dumps(s) for s in later),
            }
        )
        previous[key] = at
    return rows


def _rebuild_stays(connection: sa.Connection) -> None:
    sc = _stage_changes.c
    changes = connection.execute(
        sa.select(
            sc.id, sc.workspace_id, sc.contact_id, sc.kind, sc.to_stage, sc.actor, sc.created_at
        ).order_by(sc.contact_id, sc.created_at, sc.id)
    ).all()
    # (id, workspace_id, contact_id, kind, to_stage, actor, created_at), the time made aware
    rows = [_Change(*c[:6], _aware(c[6])) for c in changes]
    values = [
        row
        for _, group in groupby(rows, key=lambda c: c.contact_id)
        for row in _stays_of(list(group))
    ]
    for start in range(0, len(values), 10_000):
        connection.execute(sa.insert(_stage_stays), values[start : start + 10_000])


def _backfill_first_replies(connection: sa.Connection) -> None:
    src, msg = _sources.c, _messages.c
    first_out = (
        sa.select(sa.func.min(msg.created_at))
        .where(msg.contact_id == src.contact_id, msg.direction == "out")
        .scalar_subquery()
    )
    rows = connection.execute(
        sa.select(src.contact_id, src.first_message_at, first_out).where(first_out.is_not(None))
    ).all()
    values = []
    for contact_id, first_at, reply_at in rows:
        first, reply = _aware(first_at), _aware(reply_at)
        seconds = (reply - first).total_seconds() if first and reply else None
        values.append(
            {"cid": contact_id, "first_reply_at": reply, "first_response_seconds": seconds}
        )
    for start in range(0, len(values), 10_000):
        connection.execute(
            sa.update(_sources).where(src.contact_id == sa.bindparam("cid")),
            values[start : start + 10_000],
        )


def _backfill_handoff_minutes(connection: sa.Connection) -> None:
    ho, src, msg = _handoffs.c, _sources.c, _messages.c
    rows = connection.execute(
        sa.select(ho.id, ho.contact_id, ho.created_at, src.first_message_at).select_from(
            _handoffs.outerjoin(_sources, src.contact_id == ho.contact_id)
        )
    ).all()
    values = []
    for handoff_id, contact_id, at, first in rows:
        if first is None:  # no report ran for this contact yet: ask its messages
            first = connection.scalar(
                sa.select(sa.func.min(msg.created_at)).where(
                    msg.contact_id == contact_id, msg.direction == "in"
                )
            )
        first, at = _aware(first), _aware(at)
        if first is not None and at is not None:
            values.append({"hid": handoff_id, "minutes": (at - first).total_seconds() / 60})
    for start in range(0, len(values), 10_000):
        connection.execute(
            sa.update(_handoffs)
            .where(ho.id == sa.bindparam("hid"))
            .values(minutes_after_first_message=sa.bindparam("minutes")),
            values[start : start + 10_000],
        )

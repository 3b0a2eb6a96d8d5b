"""report roll-ups: stage stays, first replies, indexes for the reports; outbox URL of nudges

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 11:20:00
"""

from collections.abc import Sequence

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
    # It runs the service's own roll-up functions (one way to compute them); a later migration
    # that changes these tables must keep them working on this revision's schema, or copy them.
    from agent_service.contact_sources import backfill_first_replies, backfill_handoff_minutes
    from agent_service.stage_stays import rebuild_stays

    bind = op.get_bind()
    rebuild_stays(bind)
    backfill_first_replies(bind)
    backfill_handoff_minutes(bind)
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
    ("ix_contact_sources_ws_campaign", "contact_sources", ["workspace_id", "campaign", "contact_id"]),
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

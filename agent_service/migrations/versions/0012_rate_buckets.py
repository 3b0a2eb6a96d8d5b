"""rate buckets: the request limits every replica shares

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 03:40:00

Rate limits were token buckets in process memory, so N replicas let a workspace through at N
times its limit. A bucket is now a row, charged by one atomic upsert in the transaction that
stores the message (conversations/rate_limits.py): a workspace's bucket has an empty
``subject``, a contact's has the contact's external id. Buckets start full, so none is created
here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_buckets",
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("workspace_id", "scope", "subject"),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")

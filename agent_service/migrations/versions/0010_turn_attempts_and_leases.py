"""turn attempts and leases: a failed turn is retried a bounded number of times; a lease says
which replica answers a contact now

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 03:40:00

A message whose turn keeps failing was left ``received`` and retried forever. Each failed
attempt is now recorded on the message (``attempt_log``: when, why, what it cost; ``error``: the
last reason; ``retry_at``: not before), and after the last attempt the message is answered with
a fallback and marked ``failed`` (a new value of ``status``, no column change).

A replica answering a contact holds a lease on the contact row (``turn_leased_by``,
``turn_leased_until``), taken with a conditional UPDATE and renewed while the turn runs; a
replica that dies stops renewing, and another adopts the contact once the lease expired.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("attempt_log", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("turn_leased_by", sa.String(length=80), nullable=True))
        batch.add_column(
            sa.Column("turn_leased_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("turn_leased_until")
        batch.drop_column("turn_leased_by")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("retry_at")
        batch.drop_column("error")
        batch.drop_column("attempt_log")

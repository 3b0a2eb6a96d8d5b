"""index catch-up: workspaces.index_pending and turns.retrieval

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 03:40:00

The knowledge entries in the database are the source of truth and the vector index is derived
from them. A change stored while the index did not answer marks its workspace
(``index_pending``, a token) and a worker sends the stored entries to the index once it
answers, then clears the mark. Each turn records whether the index answered its searches
(``retrieval``: ok, timeout, unavailable, circuit_open, failed).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): the triggers on these tables stay as they are.
    op.add_column("workspaces", sa.Column("index_pending", sa.String(40), nullable=True))
    op.add_column("turns", sa.Column("retrieval", sa.String(20), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of workspaces would drop its trigger.
    op.drop_column("turns", "retrieval")
    op.drop_column("workspaces", "index_pending")

"""knowledge external ids: an entry's id in the system it was imported from

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26 03:40:00

A re-import must update the entries it imported before, not add them again. An import row may
name its entry (``external_id``: a CMS id, a spreadsheet key); the name is unique within a
workspace. Rows without one are matched by question and language (knowledge_base/store.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN and a unique index, not a batch copy: a copy of the table on SQLite
    # would drop its triggers (the knowledge revision, migration 0008). NULLs never collide.
    op.add_column("knowledge_entries", sa.Column("external_id", sa.String(200), nullable=True))
    op.create_index(
        "uq_knowledge_entries_external_id",
        "knowledge_entries",
        ["workspace_id", "external_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_knowledge_entries_external_id", table_name="knowledge_entries")
    op.drop_column("knowledge_entries", "external_id")

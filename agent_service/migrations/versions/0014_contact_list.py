"""contact list: contacts.last_message_at (kept by a trigger), contacts.search_text, indexes

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 09:00:00

``GET /v1/contacts`` sorts by the time of each contact's last message and searches names,
phone numbers and e-mails; at 100k contacts neither can be computed per request.

- ``last_message_at``: the ``created_at`` of the contact's newest message. A trigger on
  ``messages`` keeps it, so every writer (the inbox, a turn's reply, a follow-up nudge, a bulk
  insert) moves it and none can forget; messages are never deleted nor moved to another
  contact, so an insert trigger is the whole story.
- ``search_text``: name, phone and e-mail folded by Python (NFC, casefold), written with them
  (core/search.py): SQLite's ``lower()`` folds ASCII only and PostgreSQL's follows the
  database's locale, so folding in SQL would answer differently on the two.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_TRIGGER = (
    "CREATE TRIGGER messages_last_message_at AFTER INSERT ON messages BEGIN "
    "UPDATE contacts SET last_message_at = NEW.created_at WHERE id = NEW.contact_id "
    "AND (last_message_at IS NULL OR last_message_at < NEW.created_at); END"
)
POSTGRESQL_TRIGGER = (
    """CREATE FUNCTION contact_last_message_at() RETURNS trigger AS $$
    BEGIN
        UPDATE contacts SET last_message_at = NEW.created_at WHERE id = NEW.contact_id
        AND (last_message_at IS NULL OR last_message_at < NEW.created_at);
        RETURN NULL;
    END $$ LANGUAGE plpgsql""",
    "CREATE TRIGGER messages_last_message_at AFTER INSERT ON messages "
    "FOR EACH ROW EXECUTE FUNCTION contact_last_message_at()",
)


def _fold(text: str | None) -> str:
    """core/search.py's fold as it was written (a migration keeps doing what it did)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text or "").casefold())


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of contacts).
    op.add_column("contacts", sa.Column("last_message_at", sa.DateTime(timezone=True)))
    op.add_column("contacts", sa.Column("search_text", sa.Text(), nullable=True))
    op.execute(
        "UPDATE contacts SET last_message_at = "
        "(SELECT max(m.created_at) FROM messages m WHERE m.contact_id = contacts.id)"
    )
    bind = op.get_bind()
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("phone", sa.String),
        sa.column("email", sa.String),
        sa.column("search_text", sa.Text),
    )
    rows = bind.execute(sa.select(contacts.c.id, contacts.c.name, contacts.c.phone, contacts.c.email))
    values = [
        {"row_id": row.id, "folded": "\x1f".join(_fold(v) for v in (row.name, row.phone, row.email))}
        for row in rows
    ]
    if values:
        bind.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("row_id"))
            .values(search_text=sa.bindparam("folded")),
            values,
        )
    if bind.dialect.name == "postgresql":
        for statement in POSTGRESQL_TRIGGER:
            op.execute(statement)
    else:
        op.execute(SQLITE_TRIGGER)
    # The list in its order (keyset on last message time, then id), and within a stage.
    op.create_index(
        "ix_contacts_ws_last_message", "contacts", ["workspace_id", "last_message_at", "id"]
    )
    op.create_index(
        "ix_contacts_ws_stage_last_message",
        "contacts",
        ["workspace_id", "lifecycle_stage", "last_message_at", "id"],
    )
    # A contact's messages in order: the transcript, the last message, the list's snapshot.
    op.create_index("ix_messages_contact_created", "messages", ["contact_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_contact_created", table_name="messages")
    op.drop_index("ix_contacts_ws_stage_last_message", table_name="contacts")
    op.drop_index("ix_contacts_ws_last_message", table_name="contacts")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER messages_last_message_at ON messages")
        op.execute("DROP FUNCTION contact_last_message_at()")
    else:
        op.execute("DROP TRIGGER messages_last_message_at")
    op.drop_column("contacts", "search_text")
    op.drop_column("contacts", "last_message_at")

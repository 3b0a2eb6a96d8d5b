"""channel connections: WhatsApp, Telegram, LINE and Chatwoot webhooks, replies to the platform

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 09:00:00

A workspace can connect a messaging platform directly (issue 16): ``channel_connections``
holds one connection (its type, name, the platform's address, the non-secret settings, the
secrets, and what its webhook acknowledged without answering). A message that arrived through
a connection owes its reply to the platform, not to the workspace's callback URL: its outbox
row names the connection and the platform's address of the reply (``route``: the WhatsApp
number, the Telegram chat, the LINE user and reply token, the Chatwoot conversation), and
``parts_sent`` counts the requests of a long reply already accepted, so a retry never sends a
part twice. No foreign key from the outbox to the connection: deleting a connection leaves
its rows, which then fail with the reason.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "channel_connections",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("workspace_id", sa.String(length=40), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("api_base_url", sa.String(length=2000), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("secrets", sa.JSON(), nullable=False),
        sa.Column("messages_accepted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("events_ignored", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_ignored", sa.Text(), nullable=True),
        sa.Column("last_event_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_channel_connections_workspace_id", "channel_connections", ["workspace_id"]
    )
    # Plain ADD COLUMN (no batch copy), as 0013.
    op.add_column("callback_outbox", sa.Column("connection_id", sa.String(40), nullable=True))
    op.add_column("callback_outbox", sa.Column("route", sa.JSON(), nullable=True))
    op.add_column(
        "callback_outbox",
        sa.Column("parts_sent", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_column("callback_outbox", "parts_sent")
    op.drop_column("callback_outbox", "route")
    op.drop_column("callback_outbox", "connection_id")
    op.drop_index("ix_channel_connections_workspace_id", table_name="channel_connections")
    op.drop_table("channel_connections")

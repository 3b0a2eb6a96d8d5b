"""delivery: callback settings, signing secrets, the callback outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 07:50:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_settings',
    sa.Column('workspace_id', sa.String(length=40), nullable=False),
    sa.Column('callback_url', sa.String(length=2000), nullable=True),
    sa.Column('callback_secret', sa.String(length=200), nullable=True),
    sa.Column('signing_secret', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('workspace_id')
    )
    op.create_table('callback_outbox',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('workspace_id', sa.String(length=40), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('idempotency_key', sa.String(length=400), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('message_id')
    )
    with op.batch_alter_table('callback_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_outbox_workspace_id'), ['workspace_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_outbox_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
    # Start-up recovery and the per-contact queue look for a contact's unprocessed messages.
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_status_contact', ['status', 'contact_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status_contact')
    with op.batch_alter_table('callback_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_outbox_next_attempt_at'))
        batch_op.drop_index(batch_op.f('ix_callback_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_callback_outbox_workspace_id'))
    op.drop_table('callback_outbox')
    op.drop_table('delivery_settings')

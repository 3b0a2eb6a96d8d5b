"""workspace revisions: config_revision and knowledge_revision, bumped by triggers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 11:00:00

Every turn needs the workspace's configuration and the keyword index of its knowledge. Both
are cached per process and reused while these counters stay the same. Triggers keep them, so
every writer (the API, the CLI, another process, a bulk statement) moves them, and a cache can
never miss a change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONFIG_TABLES = (
    "lifecycle_stages",
    "qualification_fields",
    "teams",
    "intent_examples",
    "prompt_versions",
)
COUNTERS = {table: "config_revision" for table in CONFIG_TABLES} | {
    "knowledge_entries": "knowledge_revision"
}


def _sqlite_triggers() -> list[str]:
    bump = "UPDATE workspaces SET {column} = {column} + 1 WHERE id = {row}.workspace_id;"
    statements = []
    for table, column in COUNTERS.items():
        for event, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
            body = bump.format(column=column, row=row)
            if event == "UPDATE":  # a row moved to another workspace changes both
                body += " " + bump.format(column=column, row="OLD")
            statements.append(
                f"CREATE TRIGGER bump_{table}_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {body} END"
            )
    # The workspace's own settings (qualification rule, default team, language). SQLite does
    # not fire a trigger from its own UPDATE (recursive_triggers is off), and "UPDATE OF"
    # leaves the counters' own updates out anyway.
    statements.append(
        "CREATE TRIGGER bump_workspaces_update AFTER UPDATE OF name, settings ON workspaces "
        "BEGIN UPDATE workspaces SET config_revision = config_revision + 1 "
        "WHERE id = NEW.id; END"
    )
    return statements


def _postgresql_triggers() -> list[str]:
    statements = [
        """CREATE FUNCTION bump_workspace_revision() RETURNS trigger AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                EXECUTE format('UPDATE workspaces SET %1$I = %1$I + 1 WHERE id = $1',
                               TG_ARGV[0]) USING OLD.workspace_id;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                EXECUTE format('UPDATE workspaces SET %1$I = %1$I + 1 WHERE id = $1',
                               TG_ARGV[0]) USING NEW.workspace_id;
            END IF;
            RETURN NULL;
        END $$ LANGUAGE plpgsql""",
        """CREATE FUNCTION bump_workspace_settings() RETURNS trigger AS $$
        BEGIN
            IF NEW.name IS DISTINCT FROM OLD.name
               OR NEW.settings::jsonb IS DISTINCT FROM OLD.settings::jsonb THEN
                NEW.config_revision := OLD.config_revision + 1;
            END IF;
            RETURN NEW;
        END $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER bump_workspaces_update BEFORE UPDATE ON workspaces "
        "FOR EACH ROW EXECUTE FUNCTION bump_workspace_settings()",
    ]
    for table, column in COUNTERS.items():
        statements.append(
            f"CREATE TRIGGER bump_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION bump_workspace_revision('{column}')"
        )
    return statements


def upgrade() -> None:
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("config_revision", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("knowledge_revision", sa.Integer(), nullable=False, server_default="0")
        )
    dialect = op.get_bind().dialect.name
    for statement in _postgresql_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in COUNTERS:
            op.execute(f"DROP TRIGGER bump_{table} ON {table}")
        op.execute("DROP TRIGGER bump_workspaces_update ON workspaces")
        op.execute("DROP FUNCTION bump_workspace_revision()")
        op.execute("DROP FUNCTION bump_workspace_settings()")
    else:
        for table in COUNTERS:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER bump_{table}_{event}")
        op.execute("DROP TRIGGER bump_workspaces_update")
    with op.batch_alter_table("workspaces", schema=None) as batch_op:
        batch_op.drop_column("knowledge_revision")
        batch_op.drop_column("config_revision")

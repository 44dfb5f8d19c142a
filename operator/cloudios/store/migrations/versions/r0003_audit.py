"""Append-only audit chain and its checkpoints (was hand-written migration 3)."""

from __future__ import annotations

from alembic import op

from cloudios.store import schema

revision = "0003"
down_revision = "0002"

APPEND_ONLY = ("audit_events", "audit_checkpoints")


def upgrade() -> None:
    conn = op.get_bind()
    schema.metadata.create_all(conn, tables=[schema.audit_events, schema.audit_checkpoints])
    for table in APPEND_ONLY:
        if conn.dialect.name == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
        elif conn.dialect.name == "postgresql":
            # The app role also lacks the privileges (store/rls.py); the trigger stops the owner too.
            conn.exec_driver_sql(
                "CREATE OR REPLACE FUNCTION cloudios_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                "$$BEGIN RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only'; END$$"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION cloudios_append_only()"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION cloudios_append_only()"
            )

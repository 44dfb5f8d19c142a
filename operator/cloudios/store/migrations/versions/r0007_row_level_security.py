"""PostgreSQL: row-level security, ENABLE and FORCE, on every tenant table (SQLite: nothing to do).

A row is visible and writable only when its tenant equals the transaction's ``cloudios.tenant``
setting; unset, ``current_setting(..., true)`` is NULL and no row matches. The role running this
migration owns the tables and gets a policy of its own for cross-tenant maintenance (retention,
audit chain); the app role must be neither that role nor a member of it (store/rls.py checks).
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"

# Frozen here (not schema.TENANT_TABLES): a later table gets its policies in its own revision.
TABLES = (
    "accounts",
    "agent_usage",
    "audit_checkpoints",
    "audit_events",
    "data_keys",
    "findings",
    "health_checks",
    "scans",
    "secrets",
)
TENANT_MATCHES = "tenant = current_setting('cloudios.tenant', true)"


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    for table in TABLES:
        conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        conn.exec_driver_sql(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        conn.exec_driver_sql(
            f"CREATE POLICY cloudios_tenant ON {table} USING ({TENANT_MATCHES}) WITH CHECK ({TENANT_MATCHES})"
        )
        conn.exec_driver_sql(
            f"CREATE POLICY cloudios_maintenance ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)"
        )

"""Identities behind audit pseudonyms, erasable per tenant (row-level security like every tenant table)."""

from __future__ import annotations

from alembic import op

from cloudios.store import schema

revision = "0008"
down_revision = "0007"
TENANT_MATCHES = "tenant = current_setting('cloudios.tenant', true)"


def upgrade() -> None:
    conn = op.get_bind()
    schema.metadata.create_all(conn, tables=[schema.audit_identities])
    if conn.dialect.name != "postgresql":
        return
    table = schema.audit_identities.name
    conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    conn.exec_driver_sql(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    conn.exec_driver_sql(
        f"CREATE POLICY cloudios_tenant ON {table} USING ({TENANT_MATCHES}) WITH CHECK ({TENANT_MATCHES})"
    )
    conn.exec_driver_sql(
        f"CREATE POLICY cloudios_maintenance ON {table} TO CURRENT_USER USING (true) WITH CHECK (true)"
    )

"""PostgreSQL row-level security: the app role's grants and the start-up catalog check.

The migration role owns every table; the app role owns nothing, may not bypass row-level security,
and sees a tenant's rows only inside ``SqlRepository.tenant_transaction(tenant)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from cloudios.store import schema

TENANT_SETTING = "cloudios.tenant"
TENANT_POLICY = "cloudios_tenant"
# Append-only: the app role may read and add, never change or remove (the triggers stop the owner).
APPEND_ONLY = frozenset({"audit_events", "audit_checkpoints"})
# The one way across tenants the app role has: a cluster token's row, given the token's SHA-256
# (revision 0010; ingest learns the tenant from the token).
TOKEN_LOOKUP = "cloudios_cluster_token"  # noqa: S105 - a function name, not a secret


class UnsafeDatabaseError(RuntimeError):
    """The app role could read or write across tenants; the store refuses to start."""


@dataclass(frozen=True)
class RoleFacts:
    name: str
    superuser: bool
    bypass_rls: bool


def protect_tables(conn: sa.Connection, tables: tuple[sa.Table, ...]) -> None:
    """Row-level security on new tenant tables (migrations, PostgreSQL only): ENABLE and FORCE, the
    tenant policy (rows of the transaction's tenant only) and the maintenance policy for the
    migration role (revision 0007's pattern)."""
    matches = f"tenant = current_setting('{TENANT_SETTING}', true)"
    for table in tables:
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ENABLE ROW LEVEL SECURITY")
        conn.exec_driver_sql(f"ALTER TABLE {table.name} FORCE ROW LEVEL SECURITY")
        conn.exec_driver_sql(
            f"CREATE POLICY {TENANT_POLICY} ON {table.name} USING ({matches}) WITH CHECK ({matches})"
        )
        conn.exec_driver_sql(
            f"CREATE POLICY cloudios_maintenance ON {table.name} TO CURRENT_USER "
            "USING (true) WITH CHECK (true)"
        )


def set_tenant(conn: sa.Connection, tenant: str) -> None:
    """Scope the current transaction (only it: safe under PgBouncer transaction pooling) to ``tenant``."""
    conn.execute(
        sa.text("SELECT set_config(:name, :tenant, true)"), {"name": TENANT_SETTING, "tenant": tenant}
    )


def grant_app_role(conn: sa.Connection, role: str) -> None:
    """Give the app role what it needs on every tenant table and nothing more (idempotent)."""
    quoted = conn.dialect.identifier_preparer.quote(role)
    # Read-only, so the app role can tell whether the schema is current (migrations.require_current).
    conn.exec_driver_sql(f"GRANT SELECT ON alembic_version TO {quoted}")
    conn.exec_driver_sql(f"GRANT EXECUTE ON FUNCTION {TOKEN_LOOKUP}(text) TO {quoted}")
    for table in schema.TENANT_TABLES:
        if table in APPEND_ONLY:
            conn.exec_driver_sql(f"GRANT SELECT, INSERT ON {table} TO {quoted}")
            conn.exec_driver_sql(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {quoted}")
        else:
            conn.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {quoted}")
            conn.exec_driver_sql(f"REVOKE TRUNCATE ON {table} FROM {quoted}")
        if "id" not in schema.metadata.tables[table].c:
            continue
        sequence = conn.scalar(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table})
        if sequence:
            conn.exec_driver_sql(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {quoted}")


def problems(conn: sa.Connection) -> list[str]:
    """Everything that would let the connected (app) role escape tenant isolation; empty when safe."""
    found: list[str] = []
    role = conn.execute(
        sa.text("SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).one()
    facts = RoleFacts(role.rolname, role.rolsuper, role.rolbypassrls)
    if facts.superuser:
        found.append(f"the app role {facts.name} is a superuser")
    if facts.bypass_rls:
        found.append(f"the app role {facts.name} has BYPASSRLS")
    for table in schema.TENANT_TABLES:
        found.extend(_table_problems(conn, table, facts.name))
    return found


def _table_problems(conn: sa.Connection, table: str, role: str) -> list[str]:
    row = conn.execute(
        sa.text(
            "SELECT c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner) AS owner, "
            "pg_has_role(current_user, c.relowner, 'MEMBER') AS member "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :t AND n.nspname = current_schema() AND c.relkind = 'r'"
        ),
        {"t": table},
    ).first()
    if row is None:
        return [f"table {table} is missing"]
    found = []
    if row.member:
        found.append(f"the app role {role} owns {table} (or is a member of its owner {row.owner})")
    if not row.relrowsecurity:
        found.append(f"{table} does not have row-level security enabled")
    if not row.relforcerowsecurity:
        found.append(f"{table} does not FORCE row-level security")
    policies = conn.execute(
        sa.text(
            "SELECT policyname, qual, with_check, EXISTS (SELECT 1 FROM unnest(roles) r "
            "WHERE r = 'public' OR pg_has_role(current_user, r, 'MEMBER')) AS applies "
            "FROM pg_policies WHERE schemaname = current_schema() AND tablename = :t"
        ),
        {"t": table},
    ).all()
    tenant = [p for p in policies if p.policyname == TENANT_POLICY]
    if not tenant or not all(TENANT_SETTING in (p.qual or "") and TENANT_SETTING in (p.with_check or "")
                             for p in tenant):  # fmt: skip
        found.append(f"{table} lacks the {TENANT_POLICY} policy on {TENANT_SETTING}")
    found.extend(
        f"policy {p.policyname} on {table} applies to the app role {role}"
        for p in policies
        if p.policyname != TENANT_POLICY and p.applies
    )
    return found


def check(conn: sa.Connection) -> None:
    """The start-up catalog check: raise UnsafeDatabaseError naming every problem."""
    found = problems(conn)
    if found:
        raise UnsafeDatabaseError(
            "refusing to use this PostgreSQL database: " + "; ".join(found) + ". The app role must own "
            "nothing, not be superuser or BYPASSRLS, and every tenant table needs row-level security "
            "with FORCE (docs/operations.md, Storage)"
        )

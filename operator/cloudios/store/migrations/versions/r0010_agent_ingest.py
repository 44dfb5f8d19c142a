"""Agent ingest: cluster tokens, stored batches, each cluster's latest inventory, per-container usage.

The usage table of revision 0004 (one summary per report, never written by a released ingest) is
replaced by one row per (cluster, namespace, workload, container, period, start, source). Every new
table gets row-level security like revision 0007. Ingest must find a token's tenant before it knows
the tenant, so PostgreSQL gets one narrow function, owned by the migration role and run with its
rights: given a SHA-256, the row of exactly that token (a caller must hold the token to name it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloudios.store import rls, schema

revision = "0010"
down_revision = "0009"

TABLES = (schema.agent_usage, schema.agent_batches, schema.agent_inventory, schema.cluster_tokens)
LOOKUP = "cloudios_cluster_token"


def upgrade() -> None:
    conn = op.get_bind()
    conn.exec_driver_sql("DROP TABLE IF EXISTS agent_usage")
    schema.metadata.create_all(conn, tables=list(TABLES))
    if conn.dialect.name != "postgresql":
        return
    rls.protect_tables(conn, TABLES)
    where = conn.dialect.identifier_preparer.quote(str(conn.scalar(sa.text("SELECT current_schema()"))))
    # SECURITY DEFINER with a fixed search_path and a qualified table: nothing the caller sets can
    # redirect it. Functions are executable by PUBLIC by default; only the app role gets it
    # (store/rls.py grant_app_role).
    query = "SELECT t.tenant, t.cluster, t.account_name, t.expires_at, t.revoked_at"
    query += f" FROM {where}.cluster_tokens t WHERE t.sha256 = digest"
    conn.exec_driver_sql(
        f"CREATE FUNCTION {where}.{LOOKUP}(digest text) "
        "RETURNS TABLE (tenant varchar, cluster varchar, account_name varchar, "
        "expires_at timestamptz, revoked_at timestamptz) "
        f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {where}, pg_temp AS $$ {query} $$"
    )
    conn.exec_driver_sql(f"REVOKE ALL ON FUNCTION {where}.{LOOKUP}(text) FROM PUBLIC")

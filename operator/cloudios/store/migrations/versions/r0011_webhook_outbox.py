"""Webhook outbox: durable deliveries of signed webhooks, with row-level security like revision 0007."""

from __future__ import annotations

from alembic import op

from cloudios.store import rls, schema

revision = "0011"
down_revision = "0010"

TABLES = (schema.webhook_outbox,)


def upgrade() -> None:
    conn = op.get_bind()
    schema.metadata.create_all(conn, tables=list(TABLES))
    if conn.dialect.name != "postgresql":
        return
    rls.protect_tables(conn, TABLES)

"""Audit checkpoints name the chain's HMAC key (was hand-written migration 6)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    conn = op.get_bind()
    # Revision 0003 creates the table from today's definition, which has the column already.
    if "chain_key_id" in {c["name"] for c in sa.inspect(conn).get_columns("audit_checkpoints")}:
        return
    conn.exec_driver_sql(
        "ALTER TABLE audit_checkpoints ADD COLUMN chain_key_id VARCHAR(80) NOT NULL DEFAULT ''"
    )

"""Closed loop: each finding's baseline and observed outcome, with row-level security like revision 0007.

Numbered 0012 but chained after 0013 (the verifier's verdicts, merged first), as r0013 asked of
whichever merged second: a database already at 0013 still gets this table.
"""

from __future__ import annotations

from alembic import op

from cloudios.store import rls, schema

revision = "0012"
down_revision = "0013"

TABLES = (schema.recommendation_outcomes,)


def upgrade() -> None:
    conn = op.get_bind()
    schema.metadata.create_all(conn, tables=list(TABLES))
    if conn.dialect.name != "postgresql":
        return
    rls.protect_tables(conn, TABLES)

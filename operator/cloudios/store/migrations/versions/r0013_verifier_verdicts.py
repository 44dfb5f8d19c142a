"""The AI verifier's answers, one per finding, with row-level security like revision 0007.

Numbered 0013: revision 0012 (Recommendation lifecycle) lands beside it; whichever merges second
rechains its down_revision onto the other.
"""

from __future__ import annotations

from alembic import op

from cloudios.store import rls, schema

revision = "0013"
down_revision = "0011"

TABLES = (schema.verifier_verdicts,)


def upgrade() -> None:
    conn = op.get_bind()
    schema.metadata.create_all(conn, tables=list(TABLES))
    if conn.dialect.name != "postgresql":
        return
    rls.protect_tables(conn, TABLES)

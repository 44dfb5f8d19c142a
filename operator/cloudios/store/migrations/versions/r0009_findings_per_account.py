"""Findings keyed by (tenant, account_name, id): a finding belongs to the CloudAccount object.

Two CloudAccount objects for one cloud account, or a renamed account whose old rows are kept for
the retention period, each keep their own rows and history under the same finding id.

PostgreSQL changes the primary key in place, so the table keeps its row-level security (ENABLE,
FORCE and the policies of revision 0007). SQLite cannot change a primary key: the rows move to a
new table that takes the old one's name and index (SQLite has no row-level security to keep).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloudios.store import schema

revision = "0009"
down_revision = "0008"
KEY = ["tenant", "account_name", "id"]


def upgrade() -> None:
    conn = op.get_bind()
    found = sa.inspect(conn).get_pk_constraint("findings")
    # Revision 0001 creates the table from today's definition, which has the new key already.
    if list(found["constrained_columns"]) == KEY:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f'ALTER TABLE findings DROP CONSTRAINT "{found["name"]}", ADD PRIMARY KEY ({", ".join(KEY)})'
        )
        return
    staging = schema.findings.to_metadata(sa.MetaData(), name="findings_v9")
    staging.indexes.clear()
    staging.create(conn)
    names = [c.name for c in schema.findings.columns]
    old = sa.table("findings", *(sa.column(n) for n in names))
    conn.execute(staging.insert().from_select(names, sa.select(*(old.c[n] for n in names))))
    conn.exec_driver_sql("DROP TABLE findings")
    conn.exec_driver_sql("ALTER TABLE findings_v9 RENAME TO findings")
    for index in schema.findings.indexes:
        index.create(conn)

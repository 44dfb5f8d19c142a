"""Workload usage reported by the agent (was hand-written migration 4).

The table is defined here as it was then: revision 0010 replaces it with the per-container,
per-period table of ``schema.agent_usage``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cloudios.store.schema import UtcDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    table = sa.Table(
        "agent_usage",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(63), nullable=False),
        sa.Column("cluster", sa.String(63), nullable=False),
        sa.Column("namespace", sa.String(63), nullable=False),
        sa.Column("workload", sa.String(253), nullable=False),
        sa.Column("container", sa.String(63), nullable=False),
        sa.Column("reported_at", UtcDateTime(), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Index("ix_agent_usage_cluster", "tenant", "cluster", "reported_at"),
    )
    table.create(op.get_bind())

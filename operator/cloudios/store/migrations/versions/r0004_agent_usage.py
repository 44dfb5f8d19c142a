"""Workload usage reported by the agent (was hand-written migration 4)."""

from __future__ import annotations

from alembic import op

from cloudios.store import schema

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    schema.metadata.create_all(op.get_bind(), tables=[schema.agent_usage])

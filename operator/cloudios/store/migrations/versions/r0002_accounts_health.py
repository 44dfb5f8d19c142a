"""Accounts and their credential health checks (was hand-written migration 2)."""

from __future__ import annotations

from alembic import op

from cloudios.store import schema

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    schema.metadata.create_all(op.get_bind(), tables=[schema.accounts, schema.health_checks])

"""Scans and findings with tenant on every row (was hand-written migration 1)."""

from __future__ import annotations

from alembic import op

from cloudios.store import schema

revision = "0001"
down_revision = None


def upgrade() -> None:
    schema.metadata.create_all(op.get_bind(), tables=[schema.scans, schema.findings])

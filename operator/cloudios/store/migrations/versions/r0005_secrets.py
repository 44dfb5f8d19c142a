"""Encrypted secrets and their tenants' wrapped data keys (was hand-written migration 5)."""

from __future__ import annotations

from alembic import op

from cloudios.store import schema

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    schema.metadata.create_all(op.get_bind(), tables=[schema.data_keys, schema.secrets])

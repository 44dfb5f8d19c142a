"""Alembic's environment: migrations run on the connection that cloudios.store.migrations hands in."""

from __future__ import annotations

from alembic import context

from cloudios.store import schema

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=schema.metadata, transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()

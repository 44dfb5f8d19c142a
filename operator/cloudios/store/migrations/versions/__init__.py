"""Alembic revisions, one per schema change; a released revision never changes."""

"""Schema migrations with Alembic on SQLite and PostgreSQL, serialised across processes.

Revisions live in ``versions/``. A database made by the hand-written runner that came before
(table ``schema_migrations``, versions 1-6) is stamped with the matching revision first, so it
upgrades in place. On PostgreSQL, run this as the migration role that owns the tables, never as
the app role (docs/operations.md, Storage).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from cloudios.security import files

HERE = Path(__file__).parent
LEGACY_TABLE = "schema_migrations"
# Any constant works; it only has to be the same for every process migrating one database.
_PG_MIGRATION_LOCK = 0x0C10_D105_0001


class SchemaNotCurrentError(RuntimeError):
    """The database is not at the newest revision and this process may not migrate it."""


def config(conn: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    if found is None:  # pragma: no cover - the package always ships revisions
        raise SchemaNotCurrentError("no migration revisions found")
    return found


def current(conn: sa.Connection) -> str | None:
    """The database's revision; None for an empty (or never migrated) database."""
    return MigrationContext.configure(conn).get_current_revision()


def legacy_revision(conn: sa.Connection) -> str | None:
    """The revision matching a database of the old hand-written runner, None if it is not one."""
    inspector = sa.inspect(conn)
    if not inspector.has_table(LEGACY_TABLE) or inspector.has_table("alembic_version"):
        return None
    version = conn.scalar(sa.text(f"SELECT max(version) FROM {LEGACY_TABLE}"))  # noqa: S608 - constant
    return f"{int(version):04d}" if version else None


def upgrade(engine: sa.Engine) -> tuple[str | None, str]:
    """Bring the database to the newest revision; returns (revision before, revision after)."""
    with _lock(engine) as conn:
        legacy = legacy_revision(conn)
        if legacy is not None:
            command.stamp(config(conn), legacy)
            conn.commit()
        before = current(conn)
        conn.commit()
        command.upgrade(config(conn), "head")
        conn.commit()
        return before, current(conn) or ""


def require_current(engine: sa.Engine) -> None:
    """Refuse to go on with a schema other than the newest (a process that does not migrate)."""
    with engine.connect() as conn:
        found = current(conn)
    if found != head():
        raise SchemaNotCurrentError(
            f"the database schema is at revision {found or 'none'}, this Cloudios needs {head()}: "
            "run the migrations as the migration role (CLOUDIOS_DATABASE_ADMIN_URL, see "
            "docs/operations.md, Storage)"
        )


@contextlib.contextmanager
def _lock(engine: sa.Engine) -> Iterator[sa.Connection]:
    """One migrating process at a time: an advisory lock on PostgreSQL, a lock file next to SQLite's
    database file (two processes opening a new database would otherwise both create its tables)."""
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            conn.commit()
            try:
                yield conn
            finally:
                conn.rollback()
                conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
                conn.commit()
        return
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        with engine.connect() as conn:
            yield conn
        return
    with os.fdopen(files.open_private(f"{database}.migrate-lock", os.O_WRONLY | os.O_APPEND), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

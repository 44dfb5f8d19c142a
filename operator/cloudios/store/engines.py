"""Engines from a URL plus a password kept out of it (the URL may travel into Job specs; the password
never does)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cloudios.security import files


def private_sqlite_file(url: str) -> None:
    """A SQLite database file is created 0600 before SQLite opens it; SQLite gives its -wal, -shm and
    journal files the database file's mode. Other URLs are left alone."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    if parsed.query.get("uri"):  # a file: URI names its own path and open mode
        return
    database = Path(parsed.database).expanduser()
    if database.parent.is_dir():  # else SQLite reports the missing directory itself
        files.ensure_private_file(database)


def create(url: str, *, password: str | None = None, connect_args: dict[str, Any] | None = None) -> sa.Engine:
    """An engine for ``url``, authenticating with ``password`` when given. The password goes into
    the engine's URL object only, which SQLAlchemy masks whenever it prints it."""
    private_sqlite_file(url)
    parsed = sa.engine.make_url(url)
    if password is not None:
        parsed = parsed.set(password=password)
    options: dict[str, Any] = {"future": True, "connect_args": connect_args or {}}
    if parsed.get_backend_name() == "postgresql":
        # A pooled connection the server (or PgBouncer) dropped is replaced, not handed out.
        options["pool_pre_ping"] = True
    return sa.create_engine(parsed, **options)

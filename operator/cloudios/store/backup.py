"""The whole store as one JSON document and back: what a backup holds (encryption is the caller's).

Every table of ``schema.metadata`` but the migration log is dumped row by row; restore inserts them
into a freshly migrated, empty store of the same schema version. Secrets stay keyring ciphertext,
so a restored store needs the same master keyset.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cloudios.store import migrations, schema

FORMAT = "cloudios.io/store-dump/v1"


class RestoreError(Exception):
    """A dump that does not fit the target store (another schema version, a store that is not empty)."""


def _tables() -> list[sa.Table]:
    return list(schema.metadata.sorted_tables)


def schema_version() -> str:
    """The Alembic head revision this Cloudios migrates to."""
    return migrations.head()


def _out(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _in(column: sa.Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, schema.UtcDateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, sa.Numeric) and not isinstance(column.type, sa.Float):
        return Decimal(value)
    return value


def dump(conn: sa.Connection) -> dict[str, Any]:
    """Every row of every table, JSON-ready, with the schema version it was taken at."""
    return {
        "format": FORMAT,
        "schemaVersion": schema_version(),
        "tables": {
            table.name: [
                {k: _out(v) for k, v in row.items()} for row in conn.execute(sa.select(table)).mappings()
            ]
            for table in _tables()
        },
    }


def restore(conn: sa.Connection, document: dict[str, Any]) -> dict[str, int]:
    """Insert a dump into an empty store of the same schema version; returns rows per table."""
    if document.get("format") != FORMAT:
        raise RestoreError(
            f"not a Cloudios store dump (format {document.get('format')!r}, expected {FORMAT})"
        )
    if document.get("schemaVersion") != schema_version():
        raise RestoreError(
            f"the backup is of schema version {document.get('schemaVersion')}, this Cloudios has "
            f"{schema_version()}: restore with the version that took it, then upgrade"
        )
    tables: dict[str, list[dict[str, Any]]] = document.get("tables") or {}
    counts: dict[str, int] = {}
    for table in _tables():
        if conn.scalar(sa.select(sa.func.count()).select_from(table)):
            raise RestoreError(
                f"the target store is not empty ({table.name} has rows): restore into a new one"
            )
        rows = [
            {c.name: _in(c, row.get(c.name)) for c in table.columns if c.name in row}
            for row in tables.get(table.name, [])
        ]
        if rows:
            conn.execute(table.insert(), rows)
        counts[table.name] = len(rows)
    return counts

"""Table definitions and ordered migrations; tenant (namespace) is on every row from the start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, _dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", UtcDateTime(), nullable=False),
)

scans = sa.Table(
    "scans",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("account_name", sa.String(253), nullable=False),
    sa.Column("policy_name", sa.String(253), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=False),
    sa.Column("modules", sa.JSON, nullable=False),
    sa.Column("api_calls", sa.JSON, nullable=False),
    sa.Column("resources", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "id"),
    sa.Index("ix_scans_account", "tenant", "account_name", "started_at"),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("id", sa.String(40), nullable=False),
    sa.Column("account_name", sa.String(253), nullable=False),
    sa.Column("module", sa.String(100), nullable=False),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("resource_id", sa.String(512), nullable=False),
    sa.Column("monthly_savings", sa.Numeric(18, 4), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("last_scan_id", sa.String(36), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "id"),
    sa.Index("ix_findings_account", "tenant", "account_name", "resolved_at"),
)


def _v1_initial(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=[scans, findings])


# Append only: a released migration never changes; the next schema change is version 2.
MIGRATIONS: tuple[tuple[int, str, Callable[[sa.Connection], None]], ...] = (
    (1, "scans and findings with tenant on every row", _v1_initial),
)


def migrate(engine: sa.Engine) -> list[int]:
    """Apply pending migrations in order, each in its own transaction; returns the versions applied."""
    metadata.create_all(engine, tables=[schema_migrations])
    applied: list[int] = []
    with engine.begin() as conn:
        done = set(conn.scalars(sa.select(schema_migrations.c.version)))
    for version, name, step in MIGRATIONS:
        if version in done:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(
                schema_migrations.insert().values(version=version, name=name, applied_at=datetime.now(UTC))
            )
        applied.append(version)
    return applied

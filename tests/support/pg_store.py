"""A PostgreSQL database laid out as in production: a migration role owning it, an app role owning nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from cloudios.store import SqlRepository
from tests.support.postgres import Postgres


@dataclass(frozen=True)
class TenantDatabase:
    """One database with its two roles; URLs carry no password (the password is passed apart)."""

    server: Postgres
    name: str
    migrator: str
    app: str
    password: str

    def url(self, role: str) -> str:
        return f"postgresql+psycopg://{role}@{self.server.host}:{self.server.port}/{self.name}"

    @property
    def app_url(self) -> str:
        return self.url(self.app)

    @property
    def admin_url(self) -> str:
        return self.url(self.migrator)

    def repository(self, **kwargs: Any) -> SqlRepository:
        """The store as the operator opens it: app role, migrated by the migration role."""
        return SqlRepository(
            self.app_url,
            password=self.password,
            admin_url=self.admin_url,
            admin_password=self.password,
            **kwargs,
        )

    def engine(self, role: str | None = None, **kwargs: Any) -> sa.Engine:
        """A plain engine as ``role`` (default: the app role)."""
        url = sa.engine.make_url(self.url(role or self.app)).set(password=self.password)
        return sa.create_engine(url, **kwargs)

    def superuser(self, sql: str) -> str:
        return self.server.psql(self.name, sql)


def tenant_database(server: Postgres) -> TenantDatabase:
    """A fresh database owned by a new migration role, and a new app role with only LOGIN."""
    suffix = secrets.token_hex(4)
    password = secrets.token_urlsafe(16)
    name, migrator, app = f"cloudios_{suffix}", f"migrator_{suffix}", f"app_{suffix}"
    server.psql("postgres", f"CREATE ROLE {migrator} LOGIN PASSWORD '{password}'")
    server.psql("postgres", f"CREATE ROLE {app} LOGIN PASSWORD '{password}'")
    server.psql("postgres", f"CREATE DATABASE {name} OWNER {migrator}")
    return TenantDatabase(server, name, migrator, app, password)

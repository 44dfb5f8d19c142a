"""SQL repository on SQLAlchemy Core: SQLite by default (a file under the data dir), or PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cloudios.domain import Finding, ScanRecord, StoredFinding
from cloudios.security import files
from cloudios.security.keyring import DEFAULT_MAX_ENCRYPTIONS, Keyring
from cloudios.security.keyset import MasterKeyset
from cloudios.store import (
    agent_store,
    backup,
    data_rights,
    engines,
    finding_rows,
    health,
    migrations,
    outbox,
    rls,
    schema,
    secrets,
)
from cloudios.store.agent_store import USAGE_RETENTION, AgentStore
from cloudios.store.engines import private_sqlite_file
from cloudios.store.health import AccountRecord, HealthCheckRecord, PurgeCounts
from cloudios.store.outbox import OutboxStore
from cloudios.store.outcomes import OutcomeStore
from cloudios.store.repository import ScanDiff
from cloudios.store.verdicts import VerdictStore

__all__ = ["SqlRepository", "data_dir", "private_sqlite_file"]

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "cloudios"


def data_dir(explicit: str | Path | None = None) -> Path:
    """--data-dir, else $CLOUDIOS_DATA_DIR, else ~/.local/share/cloudios."""
    chosen = explicit or os.environ.get("CLOUDIOS_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


class SqlRepository(AgentStore, OutboxStore, VerdictStore, OutcomeStore):
    """Repository over any SQLAlchemy engine; the URL picks the backend.

    With a master ``keyset`` it also keeps secrets, encrypted under per-tenant data keys
    (``max_encryptions`` per data key before the next version; lower only in tests).
    """

    def __init__(
        self,
        url: str,
        *,
        password: str | None = None,
        admin_url: str | None = None,
        admin_password: str | None = None,
        migrate: bool = True,
        keyset: MasterKeyset | None = None,
        max_encryptions: int = DEFAULT_MAX_ENCRYPTIONS,
    ) -> None:
        self._engine = engines.create(url, password=password)
        self._admin = engines.create(admin_url, password=admin_password) if admin_url else None
        for engine in (self._engine, self._admin):
            if engine is not None and engine.dialect.name == "sqlite":
                sa.event.listen(engine, "connect", _sqlite_pragmas)
        prepare(self._engine, self._admin, migrate=migrate)
        self._keyring = (
            Keyring(
                keyset,
                secrets.SqlDataKeys(self.tenant_transaction, self._maintenance),
                max_encryptions=max_encryptions,
            )
            if keyset is not None
            else None
        )

    @classmethod
    def sqlite(
        cls,
        directory: str | Path | None = None,
        *,
        keyset: MasterKeyset | None = None,
        max_encryptions: int = DEFAULT_MAX_ENCRYPTIONS,
    ) -> SqlRepository:
        path = files.private_dir(data_dir(directory))
        return cls(f"sqlite:///{path / 'cloudios.db'}", keyset=keyset, max_encryptions=max_encryptions)

    def close(self) -> None:
        self._engine.dispose()
        if self._admin is not None:
            self._admin.dispose()

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    @contextlib.contextmanager
    def tenant_transaction(self, tenant: str) -> Iterator[sa.Connection]:
        """One transaction that sees and writes only ``tenant``'s rows; commits when the block ends.

        On PostgreSQL it sets ``cloudios.tenant`` for this transaction only (``set_config(..., true)``,
        safe under PgBouncer transaction pooling), and row-level security filters every statement by
        it; callers still name the tenant in their queries so SQLite behaves alike. Every repository
        method runs in one; functions taking a Connection (export, erasure) are called inside it.
        """
        if not tenant:
            raise ValueError("a tenant transaction needs a tenant (a namespace name)")
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                rls.set_tenant(conn, tenant)
            yield conn

    @contextlib.contextmanager
    def _lookup_transaction(self) -> Iterator[sa.Connection]:
        """A transaction of the app role with no tenant: it sees no tenant's rows (on PostgreSQL the
        cluster-token lookup function is its only way across, store/cluster_tokens.py)."""
        with self._engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _maintenance(self) -> Iterator[sa.Connection]:
        """A transaction across tenants: the migration role's connection on PostgreSQL (the app role
        never switches row-level security off), the one database on SQLite."""
        if self._admin is not None:
            with self._admin.begin() as conn:
                yield conn
        elif self._engine.dialect.name == "postgresql":
            raise MaintenanceUnavailableError
        else:
            with self._engine.begin() as conn:
                yield conn

    def record_scan(
        self, scan: ScanRecord, findings: Sequence[Finding], *, regions: Sequence[str] | None = None
    ) -> ScanDiff:
        t = schema.findings
        now = scan.finished_at
        with self.tenant_transaction(scan.tenant) as conn:
            exists = conn.scalar(
                sa.select(sa.func.count())
                .select_from(schema.scans)
                .where(schema.scans.c.tenant == scan.tenant, schema.scans.c.id == scan.id)
            )
            if not exists:
                conn.execute(
                    schema.scans.insert().values(
                        tenant=scan.tenant,
                        id=scan.id,
                        account_name=scan.account_name,
                        policy_name=scan.policy_name,
                        provider=scan.provider,
                        account_id=scan.account_id,
                        started_at=scan.started_at,
                        finished_at=scan.finished_at,
                        modules=list(scan.modules),
                        api_calls=scan.api_calls,
                        resources=scan.resources,
                    )
                )
            # Findings are the account object's own: another CloudAccount for the same cloud
            # account (or a deleted one of another name) has its own rows under the same ids.
            mine = (t.c.tenant == scan.tenant, t.c.account_name == scan.account_name)
            previous = {
                row.id: row
                for row in conn.execute(
                    sa.select(t.c.id, t.c.module, t.c.resolved_at, t.c.payload).where(*mine)
                )
            }
            new: list[str] = []
            again: list[str] = []
            for f in findings:
                values = {
                    "module": f.module,
                    "category": f.category.value,
                    "resource_id": f.resource_id,
                    "monthly_savings": f.monthly_savings.amount if f.monthly_savings else None,
                    "currency": f.monthly_savings.currency if f.monthly_savings else None,
                    "payload": f.model_dump(mode="json"),
                    "last_seen": now,
                    "resolved_at": None,
                    "last_scan_id": scan.id,
                }
                if f.id in previous:
                    conn.execute(t.update().where(*mine, t.c.id == f.id).values(**values))
                    # A finding that had gone and came back is new again to the user.
                    (again if previous[f.id].resolved_at is None else new).append(f.id)
                else:
                    conn.execute(
                        t.insert().values(
                            tenant=scan.tenant,
                            id=f.id,
                            account_name=scan.account_name,
                            first_seen=now,
                            **values,
                        )
                    )
                    new.append(f.id)
            present = {f.id for f in findings}
            # Only modules that ran can say their earlier findings are gone, and a scan restricted to
            # some regions (a shard) only for findings in those regions.
            resolved = [
                fid
                for fid, row in previous.items()
                if fid not in present
                and row.resolved_at is None
                and row.module in scan.modules
                and (regions is None or (row.payload or {}).get("region") in regions)
            ]
            if resolved:
                conn.execute(t.update().where(*mine, t.c.id.in_(resolved)).values(resolved_at=now))
        return ScanDiff(tuple(new), tuple(again), tuple(sorted(resolved)))

    def findings(
        self, tenant: str, *, account_name: str | None = None, include_resolved: bool = False
    ) -> list[StoredFinding]:
        t = schema.findings
        query = sa.select(t).where(t.c.tenant == tenant)
        if account_name is not None:
            query = query.where(t.c.account_name == account_name)
        if not include_resolved:
            query = query.where(t.c.resolved_at.is_(None))
        query = query.order_by(t.c.monthly_savings.desc(), t.c.id)
        with self.tenant_transaction(tenant) as conn:
            rows = conn.execute(query).all()
        return [finding_rows.stored(row) for row in rows]

    def finding(self, tenant: str, account_name: str, finding_id: str) -> StoredFinding | None:
        with self.tenant_transaction(tenant) as conn:
            return finding_rows.one(conn, tenant, account_name, finding_id)

    def has_scans(self, tenant: str, account_name: str) -> bool:
        with self.tenant_transaction(tenant) as conn:
            return finding_rows.has_scans(conn, tenant, account_name)

    def scans(self, tenant: str, *, account_name: str | None = None) -> list[ScanRecord]:
        s = schema.scans
        query = sa.select(s).where(s.c.tenant == tenant)
        if account_name is not None:
            query = query.where(s.c.account_name == account_name)
        with self.tenant_transaction(tenant) as conn:
            rows = conn.execute(query.order_by(s.c.started_at)).all()
        return [
            ScanRecord(
                id=r.id,
                tenant=r.tenant,
                account_name=r.account_name,
                policy_name=r.policy_name,
                provider=r.provider,
                account_id=r.account_id,
                started_at=r.started_at,
                finished_at=r.finished_at,
                modules=tuple(r.modules),
                api_calls=dict(r.api_calls),
                resources=r.resources,
            )
            for r in rows
        ]

    def total_savings(self, tenant: str) -> Decimal:
        """Sum of open findings' monthly savings for a tenant."""
        t = schema.findings
        with self.tenant_transaction(tenant) as conn:
            value = conn.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(t.c.monthly_savings), 0)).where(
                    t.c.tenant == tenant, t.c.resolved_at.is_(None)
                )
            )
        return Decimal(str(value))

    # -- accounts, health checks and retention (store/health.py) --------------------------------

    def upsert_account(
        self, *, tenant: str, name: str, provider: str, account_id: str, now: datetime
    ) -> None:
        with self.tenant_transaction(tenant) as conn:
            health.upsert_account(
                conn, tenant=tenant, name=name, provider=provider, account_id=account_id, now=now
            )

    def mark_account_deleted(self, *, tenant: str, name: str, now: datetime) -> bool:
        with self.tenant_transaction(tenant) as conn:
            return health.mark_account_deleted(conn, tenant=tenant, name=name, now=now)

    def accounts(self, tenant: str, *, include_deleted: bool = False) -> list[AccountRecord]:
        with self.tenant_transaction(tenant) as conn:
            return health.accounts(conn, tenant, include_deleted=include_deleted)

    def record_health_check(self, check: HealthCheckRecord) -> None:
        with self.tenant_transaction(check.tenant) as conn:
            health.record_health_check(conn, check)

    def health_checks(self, tenant: str, *, account_name: str | None = None) -> list[HealthCheckRecord]:
        with self.tenant_transaction(tenant) as conn:
            return health.health_checks(conn, tenant, account_name=account_name)

    def purge_expired(
        self, *, now: datetime, retention: timedelta, usage_retention: timedelta = USAGE_RETENTION
    ) -> PurgeCounts:
        with self._maintenance() as conn:
            agent = agent_store.purge(conn, now=now, retention=retention, usage_retention=usage_retention)
            counts = health.purge_expired(conn, now=now, retention=retention)
            webhooks = outbox.purge(conn, before=now - retention)
        return dataclasses.replace(
            counts, agent_usage=agent.usage, agent_batches=agent.batches, agent_clusters=agent.clusters,
            cluster_tokens=agent.tokens, webhooks=webhooks,
        )  # fmt: skip

    # -- data rights: a tenant's export and erasure (store/data_rights.py) ------------------------

    def export_tenant(self, tenant: str, *, now: datetime) -> dict[str, Any]:
        with self.tenant_transaction(tenant) as conn:
            return data_rights.export_tenant(conn, tenant, now=now)

    def erase_tenant(self, tenant: str) -> data_rights.ErasureCounts:
        with self.tenant_transaction(tenant) as conn:
            return data_rights.erase_tenant(conn, tenant)

    def dump(self) -> dict[str, Any]:
        """Every table as JSON (store/backup.py), read in one transaction across tenants."""
        with self._maintenance() as conn:
            return backup.dump(conn)

    def restore(self, document: dict[str, Any]) -> dict[str, int]:
        """Load a dump into this (empty) store; RestoreError when it does not fit."""
        with self._maintenance() as conn:
            return backup.restore(conn, document)

    # -- secrets, encrypted through security.keyring (store/secrets.py) -------------------------

    def _ring(self) -> Keyring:
        if self._keyring is None:
            raise secrets.NoMasterKeyError
        return self._keyring

    def put_secret(self, tenant: str, name: str, plaintext: bytes) -> None:
        sealed = secrets.seal(self._ring(), tenant, name, plaintext)
        with self.tenant_transaction(tenant) as conn:
            secrets.store(conn, tenant, name, sealed)

    def get_secret(self, tenant: str, name: str) -> bytes | None:
        ring = self._ring()
        with self.tenant_transaction(tenant) as conn:
            sealed = secrets.read(conn, tenant, name)
        return None if sealed is None else secrets.unseal(ring, tenant, name, sealed)

    def delete_secret(self, tenant: str, name: str) -> bool:
        with self.tenant_transaction(tenant) as conn:
            return secrets.delete(conn, tenant, name)

    def rewrap_data_keys(self) -> int:
        """Wrap every tenant's data keys under the keyset's primary version; secrets stay as stored."""
        return self._ring().rewrap()

    def data_key_status(self) -> list[secrets.DataKeyStatus]:
        with self._maintenance() as conn:
            return secrets.status(conn)


class MaintenanceUnavailableError(RuntimeError):
    """Cross-tenant work on PostgreSQL without the migration role's connection."""

    def __init__(self) -> None:
        super().__init__(
            "this needs every tenant's rows (retention, key status): on PostgreSQL it runs as the "
            "migration role, so set CLOUDIOS_DATABASE_ADMIN_URL (docs/operations.md, Storage)"
        )


def prepare(app: sa.Engine, admin: sa.Engine | None, *, migrate: bool) -> None:
    """Migrate (with the migration role on PostgreSQL, granting the app role its rights), or require
    the newest schema; then, on PostgreSQL, refuse an app role that could cross tenants."""
    postgres = app.dialect.name == "postgresql"
    migrator = admin if admin is not None else (None if postgres else app)
    if migrate and migrator is not None:
        migrations.upgrade(migrator)
        if postgres and app.url.username:
            with migrator.begin() as conn:
                rls.grant_app_role(conn, app.url.username)
    else:
        migrations.require_current(app)
    if postgres:
        with app.connect() as conn:
            rls.check(conn)


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()

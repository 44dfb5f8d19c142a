"""Accounts, their credential health checks, and retention (purging expired and deleted data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from cloudios.security.redaction import redact
from cloudios.store import schema


@dataclass(frozen=True)
class HealthCheckRecord:
    """One credential check of one account."""

    tenant: str
    account_name: str
    checked_at: datetime
    ok: bool
    reason: str
    message: str


@dataclass(frozen=True)
class AccountRecord:
    """What the store knows about a CloudAccount, including after its deletion."""

    tenant: str
    name: str
    provider: str
    account_id: str
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True)
class PurgeCounts:
    """Rows the retention job removed, by table."""

    health_checks: int = 0
    accounts: int = 0
    scans: int = 0
    findings: int = 0
    agent_usage: int = 0
    agent_batches: int = 0
    agent_clusters: int = 0
    cluster_tokens: int = 0
    webhooks: int = 0


def upsert_account(
    conn: sa.Connection, *, tenant: str, name: str, provider: str, account_id: str, now: datetime
) -> None:
    """Create the account row, or refresh it; a re-created account is no longer deleted."""
    t = schema.accounts
    updated = conn.execute(
        t.update()
        .where(t.c.tenant == tenant, t.c.name == name)
        .values(provider=provider, account_id=account_id, deleted_at=None)
    ).rowcount
    if not updated:
        conn.execute(
            t.insert().values(
                tenant=tenant, name=name, provider=provider, account_id=account_id, created_at=now
            )
        )


def mark_account_deleted(conn: sa.Connection, *, tenant: str, name: str, now: datetime) -> bool:
    """Stamp deleted_at (kept if already set); False when the store never knew the account."""
    t = schema.accounts
    changed = conn.execute(
        t.update()
        .where(t.c.tenant == tenant, t.c.name == name, t.c.deleted_at.is_(None))
        .values(deleted_at=now)
    ).rowcount
    if changed:
        return True
    return bool(
        conn.scalar(sa.select(sa.func.count()).select_from(t).where(t.c.tenant == tenant, t.c.name == name))
    )


def accounts(conn: sa.Connection, tenant: str, *, include_deleted: bool = False) -> list[AccountRecord]:
    t = schema.accounts
    query = sa.select(t).where(t.c.tenant == tenant)
    if not include_deleted:
        query = query.where(t.c.deleted_at.is_(None))
    rows = conn.execute(query.order_by(t.c.name)).all()
    return [
        AccountRecord(r.tenant, r.name, r.provider, r.account_id, r.created_at, r.deleted_at) for r in rows
    ]


def record_health_check(conn: sa.Connection, check: HealthCheckRecord) -> None:
    conn.execute(
        schema.health_checks.insert().values(
            tenant=check.tenant,
            account_name=check.account_name,
            checked_at=check.checked_at,
            ok=check.ok,
            reason=redact(check.reason),
            message=redact(check.message),
        )
    )


def health_checks(
    conn: sa.Connection, tenant: str, *, account_name: str | None = None
) -> list[HealthCheckRecord]:
    t = schema.health_checks
    query = sa.select(t).where(t.c.tenant == tenant)
    if account_name is not None:
        query = query.where(t.c.account_name == account_name)
    rows = conn.execute(query.order_by(t.c.checked_at, t.c.id)).all()
    return [
        HealthCheckRecord(r.tenant, r.account_name, r.checked_at, r.ok, r.reason, r.message) for r in rows
    ]


def purge_expired(conn: sa.Connection, *, now: datetime, retention: timedelta) -> PurgeCounts:
    """Delete health checks older than ``retention`` and every row of accounts deleted before then.

    Runs across tenants: retention is a property of the installation, not of a tenant.
    """
    cutoff = now - retention
    a, h, s, f = schema.accounts, schema.health_checks, schema.scans, schema.findings
    old_checks = conn.execute(h.delete().where(h.c.checked_at < cutoff)).rowcount
    gone = conn.execute(sa.select(a.c.tenant, a.c.name).where(a.c.deleted_at < cutoff)).all()
    counts = {"health_checks": old_checks, "accounts": 0, "scans": 0, "findings": 0}
    for tenant, name in gone:
        counts["health_checks"] += conn.execute(
            h.delete().where(h.c.tenant == tenant, h.c.account_name == name)
        ).rowcount
        counts["findings"] += conn.execute(
            f.delete().where(f.c.tenant == tenant, f.c.account_name == name)
        ).rowcount
        # The loop's records are the findings' history: purged with them (not counted apart).
        o = schema.recommendation_outcomes
        conn.execute(o.delete().where(o.c.tenant == tenant, o.c.account_name == name))
        counts["scans"] += conn.execute(
            s.delete().where(s.c.tenant == tenant, s.c.account_name == name)
        ).rowcount
        counts["accounts"] += conn.execute(a.delete().where(a.c.tenant == tenant, a.c.name == name)).rowcount
    return PurgeCounts(**counts)

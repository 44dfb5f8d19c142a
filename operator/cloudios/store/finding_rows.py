"""Findings as stored: rows into StoredFinding, one finding of one account, whether it was scanned."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cloudios.domain import Finding, StoredFinding
from cloudios.store import schema


def stored(row: Any) -> StoredFinding:
    """A findings row as the domain sees it."""
    return StoredFinding(
        tenant=row.tenant,
        account_name=row.account_name,
        finding=Finding.model_validate(row.payload),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        resolved_at=row.resolved_at,
        last_scan_id=row.last_scan_id,
    )


def one(conn: sa.Connection, tenant: str, account_name: str, finding_id: str) -> StoredFinding | None:
    """One finding of one account (open or resolved), or None when the store never had it."""
    t = schema.findings
    key = (t.c.tenant == tenant, t.c.account_name == account_name, t.c.id == finding_id)
    row = conn.execute(sa.select(t).where(*key)).first()
    return None if row is None else stored(row)


def has_scans(conn: sa.Connection, tenant: str, account_name: str) -> bool:
    """Whether any scan of the account is recorded (a fresh store knows no history)."""
    s = schema.scans
    query = sa.select(s.c.id).where(s.c.tenant == tenant, s.c.account_name == account_name).limit(1)
    return conn.execute(query).first() is not None

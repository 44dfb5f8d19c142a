"""Pseudonyms for the personal data in audit entries: the chain hashes the pseudonym, this table names it.

An audit entry's ``actor`` and the personal ``details`` (``source``, the caller's address) are stored
and hashed as ``pseudonym:<32 hex>``: random, one per (tenant, value), so one person keeps one
pseudonym within a tenant. Erasing a tenant deletes its rows here; its entries stay and still verify
(the chain never saw the identity) but nobody can tell who is behind them any more.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cloudios.security.audit import AuditEntry
from cloudios.store import schema

PREFIX = "pseudonym:"
PERSONAL_DETAILS = ("source",)
"""Keys of ``details`` whose (string) values are personal data and are pseudonymised like the actor."""


def entry_from_row(row: Any) -> AuditEntry:
    # Whatever the row holds: verification reports a malformed entry at its seq, never a traceback.
    details = row.details
    return AuditEntry(
        seq=int(row.seq),
        tenant=row.tenant,
        actor=row.actor,
        action=row.action,
        target=row.target,
        time=row.time,
        details=details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def is_pseudonym(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX) and len(value) == len(PREFIX) + 32


def pseudonym(conn: sa.Connection, tenant: str, value: str, *, now: datetime) -> str:
    """The tenant's pseudonym for ``value``, created at first sight."""
    t = schema.audit_identities
    found = conn.scalar(sa.select(t.c.pseudonym).where(t.c.tenant == tenant, t.c.value == value))
    if found is not None:
        return str(found)
    created = PREFIX + secrets.token_hex(16)
    conn.execute(t.insert().values(tenant=tenant, pseudonym=created, value=value, created_at=now))
    return created


def pseudonymised_details(
    conn: sa.Connection, tenant: str, details: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    out = dict(details)
    for key in PERSONAL_DETAILS:
        value = out.get(key)
        if isinstance(value, str) and value:
            out[key] = pseudonym(conn, tenant, value, now=now)
    return out


def identities(conn: sa.Connection, tenant: str | None = None) -> dict[tuple[str, str], str]:
    """(tenant, pseudonym) -> identity, for one tenant or all."""
    t = schema.audit_identities
    query = sa.select(t.c.tenant, t.c.pseudonym, t.c.value)
    if tenant is not None:
        query = query.where(t.c.tenant == tenant)
    return {(row.tenant, row.pseudonym): row.value for row in conn.execute(query)}


def resolve(value: Any, tenant: str, known: Mapping[tuple[str, str], str]) -> Any:
    """The identity behind a pseudonym while it is known; otherwise the value as stored."""
    if is_pseudonym(value):
        return known.get((tenant, value), value)
    return value


def readable(entry: AuditEntry, known: Mapping[tuple[str, str], str]) -> AuditEntry:
    """``entry`` with its actor and personal details resolved (for display and export only)."""
    details = dict(entry.details) if isinstance(entry.details, Mapping) else entry.details
    if isinstance(details, dict):
        for key in PERSONAL_DETAILS:
            if key in details:
                details[key] = resolve(details[key], entry.tenant, known)
    return replace(entry, actor=str(resolve(entry.actor, entry.tenant, known)), details=details)


def erase(conn: sa.Connection, tenant: str) -> int:
    """Forget who is behind the tenant's pseudonyms; returns how many identities were deleted."""
    t = schema.audit_identities
    return int(conn.execute(t.delete().where(t.c.tenant == tenant)).rowcount)

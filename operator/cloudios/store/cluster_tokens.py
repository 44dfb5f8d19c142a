"""Cluster tokens in SQL: SHA-256 for lookup, keyring ciphertext for rotation, expiry and revocation.

Every function but ``lookup`` runs in the token's tenant transaction. ``lookup`` is how ingest finds
a token's tenant: on PostgreSQL through the one security-definer function of revision 0010 (the app
role sees no tenant's rows otherwise), on SQLite by a plain query.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from cloudios.security import keyring
from cloudios.security.keyring import Binding, Keyring
from cloudios.store import rls, schema

TABLE, COLUMN = "cluster_tokens", "ciphertext"
_COLUMNS = "tenant, cluster, account_name, expires_at, revoked_at"
_LOOKUP_SQL = f"SELECT {_COLUMNS} FROM {rls.TOKEN_LOOKUP}(:digest)"  # noqa: S608 - constants; the digest is bound


@dataclass(frozen=True)
class TokenRecord:
    """A stored token without its secret: which account and cluster, and whether it still counts."""

    tenant: str
    id: str
    account_name: str
    cluster: str
    rotation: str
    """The value of the rotate annotation the token was minted for ('' before any rotation)."""
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class TokenGrant:
    """What a token's SHA-256 unlocks: its tenant and cluster, until it expires or is revoked."""

    tenant: str
    cluster: str
    account_name: str
    expires_at: datetime | None
    revoked_at: datetime | None

    def refused_at(self, now: datetime) -> str | None:
        """Why the token no longer counts at ``now`` ('revoked', 'expired'), or None."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return None


class LiveTokenExistsError(Exception):
    """Another writer minted the account's live token first (the partial unique index said so)."""


def binding(tenant: str, token_id: str) -> Binding:
    """The token's ciphertext belongs to its table, column, tenant and row."""
    return Binding(TABLE, COLUMN, tenant, token_id)


def _record(row: sa.Row[tuple[object, ...]]) -> TokenRecord:
    return TokenRecord(
        tenant=row.tenant,
        id=row.id,
        account_name=row.account_name,
        cluster=row.cluster,
        rotation=row.rotation,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def live(conn: sa.Connection, tenant: str, account_name: str) -> TokenRecord | None:
    """The account's live token (neither expiring nor revoked), if it has one."""
    t = schema.cluster_tokens
    row = conn.execute(
        sa.select(t).where(
            t.c.tenant == tenant,
            t.c.account_name == account_name,
            t.c.expires_at.is_(None),
            t.c.revoked_at.is_(None),
        )
    ).first()
    return None if row is None else _record(row)


def tokens(conn: sa.Connection, tenant: str, account_name: str | None = None) -> list[TokenRecord]:
    """The tenant's tokens (of one account), oldest first."""
    t = schema.cluster_tokens
    query = sa.select(t).where(t.c.tenant == tenant)
    if account_name is not None:
        query = query.where(t.c.account_name == account_name)
    return [_record(row) for row in conn.execute(query.order_by(t.c.created_at, t.c.id))]


def sealed(conn: sa.Connection, tenant: str, token_id: str) -> bytes | None:
    t = schema.cluster_tokens
    text = conn.scalar(sa.select(t.c.ciphertext).where(t.c.tenant == tenant, t.c.id == token_id))
    return None if text is None else keyring.from_text(text)


def new_id() -> str:
    return str(uuid.uuid4())


def seal(ring: Keyring, tenant: str, token_id: str, token: str) -> bytes:
    return ring.encrypt(token.encode("ascii"), binding(tenant, token_id))


def unseal(ring: Keyring, tenant: str, token_id: str, ciphertext: bytes) -> str:
    return ring.decrypt(ciphertext, binding(tenant, token_id)).decode("ascii")


def add(
    conn: sa.Connection,
    *,
    record: TokenRecord,
    sha256: str,
    ciphertext: bytes,
    replaces: str | None,
    retire_at: datetime,
) -> None:
    """Store a new live token; ``replaces`` (the live token the caller saw, if any) expires at
    ``retire_at``, the end of the overlap in which both work.

    When another writer changed the account's live token meanwhile, the insert fails on the partial
    unique index (IntegrityError): the caller's transaction rolls back, nothing is half-done.
    """
    t = schema.cluster_tokens
    if replaces is not None:
        conn.execute(
            t.update()
            .where(
                t.c.tenant == record.tenant,
                t.c.id == replaces,
                t.c.expires_at.is_(None),
                t.c.revoked_at.is_(None),
            )
            .values(expires_at=retire_at)
        )
    conn.execute(
        t.insert().values(
            tenant=record.tenant,
            id=record.id,
            account_name=record.account_name,
            cluster=record.cluster,
            sha256=sha256,
            key_version=keyring.key_id(ciphertext),
            ciphertext=keyring.to_text(ciphertext),
            rotation=record.rotation,
            created_at=record.created_at,
        )
    )


def revoke(conn: sa.Connection, tenant: str, account_name: str, now: datetime) -> int:
    """Revoke every token of the account that is not revoked yet; returns how many."""
    t = schema.cluster_tokens
    return int(
        conn.execute(
            t.update()
            .where(t.c.tenant == tenant, t.c.account_name == account_name, t.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
    )


def lookup(conn: sa.Connection, sha256: str) -> TokenGrant | None:
    """The grant of the token with this SHA-256, in any tenant; None when no token has it."""
    if conn.dialect.name == "postgresql":
        row = conn.execute(sa.text(_LOOKUP_SQL), {"digest": sha256}).first()
    else:
        t = schema.cluster_tokens
        row = conn.execute(
            sa.select(t.c.tenant, t.c.cluster, t.c.account_name, t.c.expires_at, t.c.revoked_at).where(
                t.c.sha256 == sha256
            )
        ).first()
    if row is None:
        return None
    utc = schema.UtcDateTime()
    return TokenGrant(
        tenant=row.tenant,
        cluster=row.cluster,
        account_name=row.account_name,
        expires_at=utc.process_result_value(row.expires_at, conn.dialect),
        revoked_at=utc.process_result_value(row.revoked_at, conn.dialect),
    )

"""Encrypted secrets in SQL: values and tenants' wrapped data keys, all through security.keyring."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from cloudios.security import keyring
from cloudios.security.keyring import Binding, Keyring, WrappedDataKey
from cloudios.store import schema

TABLE, COLUMN = "secrets", "ciphertext"


class NoMasterKeyError(keyring.KeyringError):
    """The store was opened without a master keyset, so it cannot read or write secrets."""

    def __init__(self) -> None:
        super().__init__(
            "no master key: set CLOUDIOS_MASTER_KEY_FILE (or CLOUDIOS_MASTER_KEY) to the keyset that "
            "encrypts stored secrets; see docs/security.md, Encryption at rest"
        )


@dataclass(frozen=True)
class DataKeyStatus:
    """One data key as `cloudios keys status` shows it: no key material."""

    tenant: str
    version: int
    master_version: int
    encryptions: int
    secrets: int
    created_at: datetime


def binding(tenant: str, name: str) -> Binding:
    """The associated data of a stored secret: its table, column, tenant and row (the name)."""
    return Binding(TABLE, COLUMN, tenant, name)


Scope = Callable[[str], AbstractContextManager[sa.Connection]]
"""A transaction scoped to one tenant (SqlRepository.tenant_transaction)."""
Maintenance = Callable[[], AbstractContextManager[sa.Connection]]
"""A transaction across tenants (the maintenance role on PostgreSQL)."""


class SqlDataKeys:
    """The keyring's DataKeyStore over the data_keys table; every call is one transaction, scoped to
    the key's tenant except the listing that rewrapping needs."""

    def __init__(self, tenant_transaction: Scope, maintenance: Maintenance) -> None:
        self._tenant = tenant_transaction
        self._maintenance = maintenance

    def current_data_key(self, tenant: str) -> WrappedDataKey | None:
        t = schema.data_keys
        query = sa.select(t).where(t.c.tenant == tenant).order_by(t.c.version.desc()).limit(1)
        with self._tenant(tenant) as conn:
            row = conn.execute(query).first()
        return _data_key(row) if row else None

    def data_key(self, tenant: str, version: int) -> WrappedDataKey | None:
        t = schema.data_keys
        with self._tenant(tenant) as conn:
            row = conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.version == version)).first()
        return _data_key(row) if row else None

    def add_data_key(self, key: WrappedDataKey) -> bool:
        try:
            with self._tenant(key.tenant) as conn:
                conn.execute(
                    schema.data_keys.insert().values(
                        tenant=key.tenant,
                        version=key.version,
                        master_version=key.master_version,
                        wrapped=keyring.to_text(key.wrapped),
                        encryptions=key.encryptions,
                        created_at=datetime.now(UTC),
                    )
                )
        except sa.exc.IntegrityError:
            return False
        return True

    def count_encryption(self, tenant: str, version: int) -> int:
        t = schema.data_keys
        where = (t.c.tenant == tenant, t.c.version == version)
        with self._tenant(tenant) as conn:
            conn.execute(t.update().where(*where).values(encryptions=t.c.encryptions + 1))
            return int(conn.scalar(sa.select(t.c.encryptions).where(*where)) or 0)

    def data_keys(self) -> Sequence[WrappedDataKey]:
        t = schema.data_keys
        with self._maintenance() as conn:
            return [_data_key(row) for row in conn.execute(sa.select(t).order_by(t.c.tenant, t.c.version))]

    def replace_wrapped(self, key: WrappedDataKey, wrapped: bytes) -> bool:
        t = schema.data_keys
        with self._tenant(key.tenant) as conn:
            result = conn.execute(
                t.update()
                .where(
                    t.c.tenant == key.tenant,
                    t.c.version == key.version,
                    t.c.wrapped == keyring.to_text(key.wrapped),
                )
                .values(wrapped=keyring.to_text(wrapped), master_version=keyring.key_id(wrapped))
            )
        return result.rowcount == 1


def _data_key(row: sa.Row[tuple[object, ...]]) -> WrappedDataKey:
    return WrappedDataKey(
        tenant=row.tenant,
        version=row.version,
        wrapped=keyring.from_text(row.wrapped),
        encryptions=row.encryptions,
    )


def seal(ring: Keyring, tenant: str, name: str, plaintext: bytes) -> bytes:
    """Encrypt the tenant's secret ``name`` (bound to its table, column, tenant and name)."""
    return ring.encrypt(plaintext, binding(tenant, name))


def store(conn: sa.Connection, tenant: str, name: str, sealed: bytes) -> None:
    """Store (insert or replace) a sealed secret."""
    t = schema.secrets
    now = datetime.now(UTC)
    values = {"key_version": keyring.key_id(sealed), "ciphertext": keyring.to_text(sealed), "updated_at": now}
    updated = conn.execute(t.update().where(t.c.tenant == tenant, t.c.name == name).values(**values))
    if updated.rowcount == 0:
        conn.execute(t.insert().values(tenant=tenant, name=name, created_at=now, **values))


def read(conn: sa.Connection, tenant: str, name: str) -> bytes | None:
    """The sealed secret, or None when the tenant has none of that name."""
    t = schema.secrets
    text = conn.scalar(sa.select(t.c.ciphertext).where(t.c.tenant == tenant, t.c.name == name))
    return None if text is None else keyring.from_text(text)


def unseal(ring: Keyring, tenant: str, name: str, sealed: bytes) -> bytes:
    return ring.decrypt(sealed, binding(tenant, name))


def delete(conn: sa.Connection, tenant: str, name: str) -> bool:
    t = schema.secrets
    return conn.execute(t.delete().where(t.c.tenant == tenant, t.c.name == name)).rowcount > 0


def status(conn: sa.Connection) -> list[DataKeyStatus]:
    """Every data key with its wrapping version, counter and how many secrets it encrypts."""
    k, s = schema.data_keys, schema.secrets
    used = (
        sa.select(s.c.tenant, s.c.key_version, sa.func.count().label("n"))
        .group_by(s.c.tenant, s.c.key_version)
        .subquery()
    )
    query = (
        sa.select(k.c.tenant, k.c.version, k.c.master_version, k.c.encryptions, k.c.created_at, used.c.n)
        .select_from(
            k.outerjoin(used, sa.and_(used.c.tenant == k.c.tenant, used.c.key_version == k.c.version))
        )
        .order_by(k.c.tenant, k.c.version)
    )
    return [
        DataKeyStatus(
            tenant=r.tenant,
            version=r.version,
            master_version=r.master_version,
            encryptions=r.encryptions,
            secrets=r.n or 0,
            created_at=r.created_at,
        )
        for r in conn.execute(query)
    ]

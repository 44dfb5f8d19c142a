"""Append-only audit log in SQL: one serialised writer, DB triggers against edits, external checkpoints."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloudios.security import files
from cloudios.security.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    AuditFormatError,
    ChainKey,
    VerifyResult,
    next_entry,
)
from cloudios.security.audit_verify import Latest, Unreadable, verify
from cloudios.security.canonical import canonical_json
from cloudios.security.checkpoints import Checkpoint, check_checkpoint, key_id, sign_checkpoint
from cloudios.store import audit_identities, engines, migrations, schema
from cloudios.store.audit_identities import entry_from_row
from cloudios.store.sql import data_dir

# Any constant works; it only has to be the same for every writer of one database.
_PG_ADVISORY_KEY = 0x0C10_D105_A0D1
_SQLITE_BUSY_SECONDS = 30
_IMMEDIATE = "cloudios_begin_immediate"
# One lock per database URL: several log objects in one process still have one writer at a time.
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()

Due = Callable[[Checkpoint | None, int], bool]
"""Whether to sign now, given the newest checkpoint and the head's seq (None: always)."""


class AuditIntegrityError(RuntimeError):
    """The database and the external checkpoint store disagree; no new checkpoint is signed."""


class CheckpointStore(Protocol):
    """Where signed checkpoints live outside the database (a directory, a ConfigMap)."""

    def describe(self) -> str: ...

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint; raises AuditFormatError when the store holds something else."""
        ...

    def history(self) -> list[Checkpoint]:
        """Every checkpoint the store keeps, oldest first (a ConfigMap keeps the last two)."""
        ...

    def publish(self, checkpoint: Checkpoint, *, replacing: Checkpoint | None) -> None:
        """Make ``checkpoint`` the latest if ``replacing`` still is; else CheckpointConflictError."""
        ...


class SqlAuditLog:
    """The audit log over a SQLAlchemy engine: append, read, checkpoint, verify. No update/delete.

    ``chain_key`` links the entries (HMAC); it comes from a file or Secret, never from the database,
    and is needed to append and to verify. The chain spans every tenant, so on PostgreSQL the log is
    opened as the migration role (CLOUDIOS_DATABASE_ADMIN_URL), which row-level security lets see
    all rows; appends are serialised by an advisory lock in the insert transaction.
    """

    def __init__(
        self,
        url: str,
        *,
        chain_key: ChainKey | None = None,
        migrate: bool = True,
        password: str | None = None,
    ) -> None:
        self._url = url
        self.chain_key = chain_key
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = _SQLITE_BUSY_SECONDS
        self._engine = engines.create(url, password=password, connect_args=connect_args)
        if self._engine.dialect.name == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_connect)
            sa.event.listen(self._engine, "begin", _sqlite_begin)
        if migrate:
            migrations.upgrade(self._engine)
        with _PROCESS_LOCKS_GUARD:
            self._lock = _PROCESS_LOCKS.setdefault(url, threading.Lock())

    @classmethod
    def sqlite(
        cls, directory: str | Path | None = None, *, chain_key: ChainKey | None = None, migrate: bool = True
    ) -> SqlAuditLog:
        """The log in the same SQLite file as the repository (<data dir>/cloudios.db)."""
        path = files.private_dir(data_dir(directory))
        return cls(f"sqlite:///{path / 'cloudios.db'}", chain_key=chain_key, migrate=migrate)

    def close(self) -> None:
        self._engine.dispose()

    def _key(self) -> ChainKey:
        if self.chain_key is None:
            raise AuditIntegrityError("the audit log needs its chain key (CLOUDIOS_AUDIT_CHAIN_KEY_FILE)")
        return self.chain_key

    @contextlib.contextmanager
    def _writer(self) -> Iterator[sa.Connection]:
        """The single-writer section: a process lock plus the database's own write lock.

        SQLite: BEGIN IMMEDIATE takes the write lock at the start, so two processes never read the
        same head. PostgreSQL: a transaction-scoped advisory lock (the seam for the PG store).
        """
        with self._lock, self._engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_ADVISORY_KEY})
                yield conn

    def append(self, event: AuditEvent, *, skip_repeat: bool = False) -> AuditEntry:
        """Append one event and return its entry.

        With ``skip_repeat`` an event identical (action, actor, details) to the newest entry for
        the same tenant and target is not written again and that entry is returned: the API
        server may run admission twice for one request when it retries on a conflict.
        """
        key = self._key()
        t = schema.audit_events
        now = datetime.now(UTC)
        with self._writer() as conn:
            # The chain hashes pseudonyms only; audit_identities names them until the tenant is erased.
            event = replace(
                event,
                actor=audit_identities.pseudonym(conn, event.tenant, event.actor, now=now)
                if event.actor
                else "",
                details=audit_identities.pseudonymised_details(conn, event.tenant, event.details, now=now),
            )
            if skip_repeat:
                latest = conn.execute(
                    sa.select(t)
                    .where(t.c.tenant == event.tenant, t.c.target == event.target)
                    .order_by(t.c.seq.desc())
                    .limit(1)
                ).first()
                if latest is not None:
                    entry = entry_from_row(latest)
                    same = (entry.action, entry.actor) == (event.action, event.actor)
                    if same and canonical_json(entry.details) == canonical_json(event.details):
                        return entry
            seq, prev = _head(conn)
            entry = next_entry(event, seq=seq + 1, prev_hash=prev, now=now, key=key)
            conn.execute(
                t.insert().values(
                    seq=entry.seq,
                    tenant=entry.tenant,
                    time=entry.time,
                    actor=entry.actor,
                    action=entry.action,
                    target=entry.target,
                    details=dict(entry.details),
                    prev_hash=entry.prev_hash,
                    hash=entry.hash,
                )
            )
        return entry

    def entries(self, tenant: str | None = None) -> list[AuditEntry]:
        """Entries in seq order; all tenants when ``tenant`` is None (verification needs them all)."""
        t = schema.audit_events
        query = sa.select(t).order_by(t.c.seq)
        if tenant is not None:
            query = query.where(t.c.tenant == tenant)
        with self._engine.connect() as conn:
            return [entry_from_row(row) for row in conn.execute(query)]

    def readable(self, tenant: str) -> list[AuditEntry]:
        """A tenant's entries with the identities behind their pseudonyms, while they are known.

        For people and exports only: these do not verify (the chain hashes the pseudonyms).
        """
        with self._engine.connect() as conn:
            stored = [entry_from_row(row) for row in conn.execute(_tenant_entries(tenant))]
            known = audit_identities.identities(conn, tenant)
        return [audit_identities.readable(entry, known) for entry in stored]

    def recorded_checkpoints(self) -> list[Checkpoint]:
        """Checkpoints as recorded in the database (copies; the external store holds the latest)."""
        c = schema.audit_checkpoints
        with self._engine.connect() as conn:
            return [_checkpoint(row) for row in conn.execute(sa.select(c).order_by(c.c.idx))]

    def checkpoint(
        self, signing_key: Ed25519PrivateKey, stores: Sequence[CheckpointStore], *, due: Due | None = None
    ) -> Checkpoint | None:
        """Sign the current head, publish it to every store and record a copy (None when not ``due``).

        Runs under the writer lock, so the head cannot move meanwhile. The stores' latest must be
        the database's newest checkpoint, or exactly one ahead of it (a publish whose commit was
        lost, which is then recorded); anything else refuses to sign on top of a disagreement.
        """
        if not stores:
            raise AuditIntegrityError("no checkpoint store configured: checkpoints live outside the database")
        key = self._key()
        c = schema.audit_checkpoints
        with self._writer() as conn:
            recorded = _newest_recorded(conn)
            latest = _agreed_latest(stores)
            if latest != recorded:
                _adopt(conn, latest, recorded, signing_key, key)
            head_seq, head_hash = _head(conn)
            if due is not None and not due(latest, head_seq):
                return None
            signed = sign_checkpoint(
                previous=latest,
                last_seq=head_seq,
                head_hash=head_hash,
                chain_key_id=key.key_id,
                signing_key=signing_key,
                now=datetime.now(UTC),
            )
            conn.execute(c.insert().values(**_row(signed)))
            # Published inside the transaction: if a store refuses, nothing is recorded.
            for store in stores:
                store.publish(signed, replacing=latest)
        return signed

    def verify(
        self, public_keys: Mapping[str, Ed25519PublicKey], store: CheckpointStore, *, min_seq: int = 0
    ) -> VerifyResult:
        """Recompute the chain; check the database's checkpoints and the store's against each other."""
        entries = self.entries()
        try:
            recorded = self.recorded_checkpoints()
        except AuditFormatError as exc:
            return VerifyResult(ok=False, first_bad_seq=1, reason=f"a checkpoint row is malformed: {exc}")
        latest: Latest
        try:
            history, latest = store.history(), store.latest()
        except AuditFormatError as exc:
            history, latest = [], Unreadable(f"{store.describe()}: {exc}")
        return verify(
            entries, [*recorded, *history], public_keys, self._key(), latest=latest, min_seq=min_seq
        )


def _tenant_entries(tenant: str) -> sa.Select[Any]:
    t = schema.audit_events
    return sa.select(t).where(t.c.tenant == tenant).order_by(t.c.seq)


def _head(conn: sa.Connection) -> tuple[int, str]:
    t = schema.audit_events
    head = conn.execute(sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
    return (int(head.seq), str(head.hash)) if head else (0, GENESIS_HASH.hex())


def _newest_recorded(conn: sa.Connection) -> Checkpoint | None:
    c = schema.audit_checkpoints
    row = conn.execute(sa.select(c).order_by(c.c.idx.desc()).limit(1)).first()
    return _checkpoint(row) if row is not None else None


def _agreed_latest(stores: Sequence[CheckpointStore]) -> Checkpoint | None:
    try:
        found = [(store, store.latest()) for store in stores]
    except AuditFormatError as exc:
        raise AuditIntegrityError(
            f"a checkpoint store holds something that is not a checkpoint: {exc}"
        ) from None
    first_store, first = found[0]
    for store, latest in found[1:]:
        if latest != first:
            raise AuditIntegrityError(
                f"{first_store.describe()} and {store.describe()} disagree on the latest audit checkpoint"
            )
    return first


def _adopt(
    conn: sa.Connection,
    latest: Checkpoint | None,
    recorded: Checkpoint | None,
    signing_key: Ed25519PrivateKey,
    key: ChainKey,
) -> None:
    """Record the store's latest if it is our own next checkpoint; otherwise refuse to go on."""
    public = signing_key.public_key()
    seq_hash = None
    if latest is not None and latest.last_seq > 0:
        t = schema.audit_events
        seq_hash = conn.execute(sa.select(t.c.hash).where(t.c.seq == latest.last_seq)).scalar()
    head_ok = latest is not None and (latest.last_seq == 0 or seq_hash == latest.head_hash)
    if (
        latest is None
        or not head_ok
        or check_checkpoint(latest, recorded, {key_id(public): public}, key.key_id)
    ):
        store_says = f"checkpoint {latest.index}" if latest else "no checkpoint"
        db_says = f"checkpoint {recorded.index}" if recorded else "no checkpoint"
        raise AuditIntegrityError(
            f"the checkpoint store holds {store_says} but the database's newest is {db_says}; "
            "no checkpoint is signed on top of a disagreement: run `cloudios audit verify`"
        )
    conn.execute(schema.audit_checkpoints.insert().values(**_row(latest)))


def _row(cp: Checkpoint) -> dict[str, Any]:
    return {
        "idx": cp.index,
        "first_seq": cp.first_seq,
        "last_seq": cp.last_seq,
        "head_hash": cp.head_hash,
        "prev_signature": cp.prev_signature,
        "chain_key_id": cp.chain_key_id,
        "key_id": cp.key_id,
        "time": cp.time,
        "signature": cp.signature,
    }


def _checkpoint(row: sa.Row[Any]) -> Checkpoint:
    try:
        return Checkpoint(
            index=int(row.idx),
            first_seq=int(row.first_seq),
            last_seq=int(row.last_seq),
            head_hash=str(row.head_hash),
            prev_signature=str(row.prev_signature),
            chain_key_id=str(row.chain_key_id),
            key_id=str(row.key_id),
            time=str(row.time),
            signature=str(row.signature),
        )
    except (TypeError, ValueError) as exc:
        raise AuditFormatError(f"checkpoint row {row.idx!r}: {exc}") from None


def _sqlite_connect(dbapi_conn: Any, _record: object) -> None:
    # The driver must not open transactions by itself; _sqlite_begin_immediate does it.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    # Readers take no lock (a read-only copy verifies fine); writers lock before reading the head.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_IMMEDIATE) else "BEGIN")

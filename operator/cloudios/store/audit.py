"""Append-only audit log in SQL: one serialised writer, DB triggers against edits, external checkpoints."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloudios.security import files
from cloudios.security.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    AuditFormatError,
    Checkpoint,
    VerifyResult,
    canonical_json,
    next_entry,
    sign_checkpoint,
    verify,
)
from cloudios.store import schema
from cloudios.store.sql import data_dir, private_sqlite_file

CHECKPOINT_DIR_ENV = "CLOUDIOS_AUDIT_CHECKPOINT_DIR"
CHECKPOINT_MODE = 0o400
# Any constant works; it only has to be the same for every writer of one database.
_PG_ADVISORY_KEY = 0x0C10_D105_A0D1
_SQLITE_BUSY_SECONDS = 30
_IMMEDIATE = "cloudios_begin_immediate"
# One lock per database URL: several log objects in one process still have one writer at a time.
_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


class AuditIntegrityError(RuntimeError):
    """The database and the external checkpoint store disagree; no new checkpoint is signed."""


def default_checkpoint_dir(explicit: str | Path | None = None, *, data: str | Path | None = None) -> Path:
    """--checkpoints, else $CLOUDIOS_AUDIT_CHECKPOINT_DIR, else <data dir>/audit-checkpoints.

    The default keeps a laptop install working; in a cluster mount a separate volume (or sync the
    directory to write-once object storage) so whoever can write the database cannot rewrite them.
    """
    chosen = explicit or os.environ.get(CHECKPOINT_DIR_ENV)
    return Path(chosen).expanduser() if chosen else data_dir(data) / "audit-checkpoints"


class CheckpointStore:
    """A directory of write-once checkpoint files, one per index (never overwritten)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def path_for(self, index: int) -> Path:
        return self.directory / f"checkpoint-{index:010d}.json"

    def write(self, checkpoint: Checkpoint) -> Path:
        files.private_dir(self.directory)
        path = self.path_for(checkpoint.index)
        # Owner-read-only: written once, never rewritten, and not for other users to read.
        fd = files.open_private(path, os.O_WRONLY | os.O_EXCL, mode=CHECKPOINT_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(checkpoint.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def all(self) -> list[Checkpoint]:
        if not self.directory.is_dir():
            return []
        found = [
            Checkpoint.from_json(path.read_text(encoding="utf-8"))
            for path in sorted(self.directory.glob("checkpoint-*.json"))
        ]
        return sorted(found, key=lambda c: c.index)

    def latest(self) -> Checkpoint | None:
        found = self.all()
        return found[-1] if found else None


class SqlAuditLog:
    """The audit log over a SQLAlchemy engine: append, read, checkpoint, verify. No update/delete."""

    def __init__(self, url: str, *, checkpoint_dir: str | Path | None = None, migrate: bool = True) -> None:
        self._url = url
        private_sqlite_file(url)
        connect_args: dict[str, Any] = {}
        if url.startswith("sqlite"):
            connect_args["timeout"] = _SQLITE_BUSY_SECONDS
        self._engine = sa.create_engine(url, future=True, connect_args=connect_args)
        if self._engine.dialect.name == "sqlite":
            sa.event.listen(self._engine, "connect", _sqlite_connect)
            sa.event.listen(self._engine, "begin", _sqlite_begin)
        if migrate:
            schema.migrate(self._engine)
        self.checkpoints_store = CheckpointStore(checkpoint_dir) if checkpoint_dir is not None else None
        with _PROCESS_LOCKS_GUARD:
            self._lock = _PROCESS_LOCKS.setdefault(url, threading.Lock())

    @classmethod
    def sqlite(
        cls,
        directory: str | Path | None = None,
        *,
        checkpoint_dir: str | Path | None = None,
        migrate: bool = True,
    ) -> SqlAuditLog:
        """The log in the same SQLite file as the repository (<data dir>/cloudios.db)."""
        path = files.private_dir(data_dir(directory))
        return cls(f"sqlite:///{path / 'cloudios.db'}", checkpoint_dir=checkpoint_dir, migrate=migrate)

    def close(self) -> None:
        self._engine.dispose()

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
        t = schema.audit_events
        with self._writer() as conn:
            if skip_repeat:
                latest = conn.execute(
                    sa.select(t)
                    .where(t.c.tenant == event.tenant, t.c.target == event.target)
                    .order_by(t.c.seq.desc())
                    .limit(1)
                ).first()
                if latest is not None:
                    entry = _entry(latest)
                    same = (entry.action, entry.actor) == (event.action, event.actor)
                    if same and canonical_json(entry.details) == canonical_json(event.details):
                        return entry
            head = conn.execute(sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
            seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH.hex())
            entry = next_entry(event, seq=seq, prev_hash=prev, now=datetime.now(UTC))
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
            return [_entry(row) for row in conn.execute(query)]

    def recorded_checkpoints(self) -> list[Checkpoint]:
        """Checkpoints as recorded in the database (a copy; the external store is authoritative)."""
        c = schema.audit_checkpoints
        with self._engine.connect() as conn:
            return [_checkpoint(row) for row in conn.execute(sa.select(c).order_by(c.c.idx))]

    def checkpoint(self, signing_key: Ed25519PrivateKey) -> Checkpoint:
        """Sign the current head, write it to the external store and record it (even if empty).

        Run it on a schedule (hourly). The key is passed in, never stored: it lives in a file or
        Secret the database administrator cannot read.
        """
        if self.checkpoints_store is None:
            raise AuditIntegrityError("no checkpoint directory configured; checkpoints live outside the DB")
        t, c = schema.audit_events, schema.audit_checkpoints
        with self._writer() as conn:
            previous = self.checkpoints_store.latest()
            recorded = conn.execute(sa.select(c).order_by(c.c.idx.desc()).limit(1)).first()
            if (recorded is None) != (previous is None) or (
                recorded is not None and previous is not None and _checkpoint(recorded) != previous
            ):
                raise AuditIntegrityError(
                    "the newest checkpoint in the database differs from the external checkpoint store; "
                    "run `cloudios audit verify` before signing another"
                )
            head = conn.execute(sa.select(t.c.seq, t.c.hash).order_by(t.c.seq.desc()).limit(1)).first()
            signed = sign_checkpoint(
                previous=previous,
                last_seq=head.seq if head else 0,
                head_hash=head.hash if head else GENESIS_HASH.hex(),
                signing_key=signing_key,
                now=datetime.now(UTC),
            )
            conn.execute(
                c.insert().values(
                    idx=signed.index,
                    first_seq=signed.first_seq,
                    last_seq=signed.last_seq,
                    head_hash=signed.head_hash,
                    prev_signature=signed.prev_signature,
                    key_id=signed.key_id,
                    time=signed.time,
                    signature=signed.signature,
                )
            )
            # Written inside the transaction: if the file cannot be written nothing is recorded.
            self.checkpoints_store.write(signed)
        return signed

    def verify(self, public_keys: Mapping[str, Ed25519PublicKey]) -> VerifyResult:
        """Recompute the chain and check it against the external checkpoints (the DB copy if none)."""
        entries = self.entries()
        recorded = self.recorded_checkpoints()
        external = self.checkpoints_store.all() if self.checkpoints_store is not None else None
        result = verify(entries, recorded if external is None else external, public_keys)
        if not result.ok or external is None:
            return result
        by_index = {cp.index: cp for cp in external}
        for cp in recorded:
            if by_index.get(cp.index) != cp:
                return VerifyResult(
                    ok=False,
                    first_bad_seq=cp.first_seq,
                    reason=f"checkpoint {cp.index} recorded in the database is missing from or differs in "
                    "the checkpoint store",
                    entries=result.entries,
                    checkpoints=result.checkpoints,
                    anchored_through=result.anchored_through,
                )
        return result


def _entry(row: sa.Row[Any]) -> AuditEntry:
    details = row.details
    if not isinstance(details, dict):
        raise AuditFormatError(f"seq {row.seq}: details are not a JSON object")
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


def _checkpoint(row: sa.Row[Any]) -> Checkpoint:
    return Checkpoint(
        index=int(row.idx),
        first_seq=int(row.first_seq),
        last_seq=int(row.last_seq),
        head_hash=row.head_hash,
        prev_signature=row.prev_signature,
        key_id=row.key_id,
        time=row.time,
        signature=row.signature,
    )


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

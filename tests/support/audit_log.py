"""Audit-log test fixtures: one installation (database, keys, checkpoints), events, tampering, the CLI."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloudios.cli import audit as audit_cli
from cloudios.cli.commands import audit as audit_commands
from cloudios.security.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    ChainKey,
)
from cloudios.security.canonical import canonical_json
from cloudios.security.checkpoints import (
    Checkpoint,
    key_id,
    private_key_pem,
    public_key_pem,
)
from cloudios.store.audit import SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory

FIXED_NOW = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@dataclass
class Audit:
    """One installation: the database, its keys (files outside the data dir) and a checkpoint store."""

    root: Path
    log: SqlAuditLog
    chain_key: ChainKey
    signing_key: Ed25519PrivateKey
    store: CheckpointDirectory

    @property
    def data(self) -> Path:
        return self.root / "data"

    def file(self, name: str) -> str:
        return str(self.root / "keys" / name)

    def checkpoint(self) -> Checkpoint:
        signed = self.log.checkpoint(self.signing_key, [self.store])
        assert signed is not None
        return signed

    def trusted(self) -> dict[str, Ed25519PublicKey]:
        return keys_of(self.signing_key)


def write_keys(directory: Path, chain_key: ChainKey, signing_key: Ed25519PrivateKey) -> None:
    directory.mkdir(mode=0o700)
    for name, data in (
        ("chain.key", chain_key.to_text()),
        ("signing.key", private_key_pem(signing_key)),
        ("signing.pub", public_key_pem(signing_key.public_key())),
    ):
        (directory / name).write_bytes(data)
        (directory / name).chmod(0o600)


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[Audit]:
    chain_key, signing_key = ChainKey.generate(), Ed25519PrivateKey.generate()
    write_keys(tmp_path / "keys", chain_key, signing_key)
    log = SqlAuditLog.sqlite(tmp_path / "data", chain_key=chain_key)
    yield Audit(tmp_path, log, chain_key, signing_key, CheckpointDirectory(tmp_path / "checkpoints"))
    log.close()


def event(i: int, tenant: str = "team-a") -> AuditEvent:
    return AuditEvent(
        tenant=tenant,
        actor=f"user-{i % 3}@example.com",
        action="recommendation.approved",
        target=f"{tenant}/rec-{i}",
        details={"findingId": f"f{i:04d}", "monthlySavings": {"amount": f"{i}.50", "currency": "USD"}},
    )


def fill(log: SqlAuditLog, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        log.append(event(i))


def tamper(audit: Audit, *statements: str) -> None:
    """TAMPERING, as an attacker with write access to the database file: drop the append-only
    triggers, then edit rows behind the application's back."""
    conn = sqlite3.connect(str(audit.data / "cloudios.db"), isolation_level=None)
    try:
        for table in ("audit_events", "audit_checkpoints"):
            for op in ("update", "delete"):
                conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def insert_sql(e: AuditEntry) -> str:
    return (
        "INSERT INTO audit_events (seq, tenant, time, actor, action, target, details, prev_hash, hash) "
        f"VALUES ({e.seq}, '{e.tenant}', '{e.time}', '{e.actor}', '{e.action}', '{e.target}', "
        f"'{json.dumps(dict(e.details))}', '{e.prev_hash}', '{e.hash}')"
    )


def unkeyed(prev: bytes, payload: dict[str, object]) -> bytes:
    """The best a database attacker can do without the chain key: the plain SHA-256 link."""
    return hashlib.sha256(b"audit-v1" + prev + canonical_json(payload)).digest()


def recompute(entries: list[AuditEntry]) -> list[AuditEntry]:
    """What an attacker does after editing: recompute every hash from the start (without the key)."""
    out: list[AuditEntry] = []
    prev = GENESIS_HASH
    for e in entries:
        digest = unkeyed(prev, e.payload())
        out.append(replace(e, prev_hash=prev.hex(), hash=digest.hex()))
        prev = digest
    return out


def forged_next(head: AuditEntry) -> AuditEntry:
    forged = AuditEntry(
        seq=head.seq + 1,
        tenant="team-a",
        actor="cfo@example.com",
        action="recommendation.approved",
        target="team-a/rec-forged",
        time=head.time,
        details={"findingId": "f-forged"},
        prev_hash=head.hash,
        hash="",
    )
    return replace(forged, hash=unkeyed(bytes.fromhex(head.hash), forged.payload()).hex())


def keys_of(*private: Ed25519PrivateKey) -> dict[str, Ed25519PublicKey]:
    return {key_id(k.public_key()): k.public_key() for k in private}


def cli(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="cloudios")
    audit_commands.add_parser(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = audit_cli.run(parser.parse_args(["audit", *argv]))
    return code, out.getvalue() + err.getvalue()


def verify_cli(audit: Audit, *extra: str) -> tuple[int, str]:
    """`cloudios audit verify` as an auditor runs it: chain key, public key, the external store."""
    return cli(
        "verify",
        "--data-dir", str(audit.data),
        "--chain-key", audit.file("chain.key"),
        "--public-key", audit.file("signing.pub"),
        "--checkpoints", str(audit.store.directory),
        *extra,
    )  # fmt: skip

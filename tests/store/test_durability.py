"""PostgreSQL store across restarts and processes: history, the audit chain, and dumps without secrets."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from cloudios.security import keyset
from cloudios.security.audit import AuditEvent, ChainKey
from cloudios.security.checkpoints import key_id
from cloudios.store.audit import SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory
from cloudios.store.health import HealthCheckRecord
from tests.store.test_tenant_isolation import T0, finding, scan_of
from tests.support.pg_store import TenantDatabase, tenant_database
from tests.support.postgres import Postgres

pytestmark = pytest.mark.postgres
CANARY = b"canary-secret-5f1e0c77d2"


def audit_log(db: TenantDatabase, chain: bytes) -> SqlAuditLog:
    """The audit log as the operator opens it on PostgreSQL: as the migration role (one chain)."""
    return SqlAuditLog(db.admin_url, chain_key=ChainKey(chain), password=db.password)


def event(i: int, who: str) -> AuditEvent:
    return AuditEvent(
        tenant=f"team-{i % 3}", actor=who, action="recommendation.approved", target=f"r-{i}", details={"i": i}
    )


def operator_run(db: TenantDatabase, chain: bytes, signing_pem: bytes, checkpoints: str, day: int) -> None:
    """One operator process's life: migrate, scan, check health, audit, checkpoint, stop."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key  # noqa: PLC0415

    repo = db.repository()
    log = audit_log(db, chain)
    try:
        when = T0 + timedelta(days=day)
        repo.upsert_account(tenant="team-a", name="prod", provider="aws", account_id="1", now=when)
        repo.record_health_check(HealthCheckRecord("team-a", "prod", when, ok=True, reason="Ok", message=""))
        repo.record_scan(scan_of("team-a", f"s{day}", when), [finding("team-a", "i-1")])
        for i in range(5):
            log.append(event(day * 10 + i, f"operator-day-{day}"))
        key = load_pem_private_key(signing_pem, None)
        assert isinstance(key, Ed25519PrivateKey)
        log.checkpoint(key, [CheckpointDirectory(checkpoints)])
    finally:
        log.close()
        repo.close()


def appender(db: TenantDatabase, chain: bytes, who: str, n: int) -> None:
    log = audit_log(db, chain)
    try:
        for i in range(n):
            log.append(event(i, who))
    finally:
        log.close()


def in_processes(*runs: tuple[object, ...]) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=run[0], args=run[1:]) for run in runs]  # type: ignore[arg-type]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0] * len(procs)


@pytest.fixture
def db(postgres: Postgres) -> TenantDatabase:
    return tenant_database(postgres)


def test_an_operator_restart_keeps_history_first_seen_and_a_verifiable_audit_chain(
    db: TenantDatabase, tmp_path: Path
) -> None:
    chain, signing = ChainKey.generate().secret, Ed25519PrivateKey.generate()
    pem = signing.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    checkpoints = str(tmp_path / "checkpoints")
    in_processes((operator_run, db, chain, pem, checkpoints, 0))
    in_processes((operator_run, db, chain, pem, checkpoints, 1))  # a new process, the same database
    repo = db.repository()
    log = audit_log(db, chain)
    try:
        assert [s.id for s in repo.scans("team-a")] == ["s0", "s1"]
        assert [h.checked_at for h in repo.health_checks("team-a")] == [T0, T0 + timedelta(days=1)]
        [kept] = repo.findings("team-a")
        assert kept.first_seen == T0 + timedelta(minutes=1)  # from before the restart
        assert kept.last_seen == T0 + timedelta(days=1, minutes=1)
        assert [a.created_at for a in repo.accounts("team-a")] == [T0]
        result = log.verify(
            {key_id(signing.public_key()): signing.public_key()}, CheckpointDirectory(checkpoints)
        )
        assert result.ok, result.reason
        assert result.entries == 10
        assert result.checkpoints >= 2
    finally:
        log.close()
        repo.close()


def test_two_processes_append_to_one_chain_without_duplicate_seq(db: TenantDatabase) -> None:
    db.repository().close()
    chain = ChainKey.generate().secret
    in_processes((appender, db, chain, "one", 25), (appender, db, chain, "two", 25))
    log = audit_log(db, chain)
    try:
        entries = log.entries()
        assert [e.seq for e in entries] == list(range(1, 51))
        # The chain holds pseudonyms; the identities behind them are readable per tenant.
        readable = [e for tenant in ("team-0", "team-1", "team-2") for e in log.readable(tenant)]
        assert {e.actor for e in readable} == {"one", "two"}
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    finally:
        log.close()


def test_a_database_dump_holds_no_secret_in_clear(db: TenantDatabase, postgres: Postgres) -> None:
    repo = db.repository(keyset=keyset.generate())
    try:
        repo.put_secret("team-a", "kubeconfig", CANARY)
        assert repo.get_secret("team-a", "kubeconfig") == CANARY
    finally:
        repo.close()
    dump = subprocess.run(
        [str(postgres.bin_dir / "pg_dump"), "-h", postgres.host, "-p", str(postgres.port), "-U",
         postgres.superuser, "-d", db.name],
        env={**os.environ, "PGPASSWORD": postgres.password}, capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert b"COPY public.secrets" in dump
    assert b"team-a\tkubeconfig" in dump  # the row is in the dump, encrypted
    assert CANARY not in dump

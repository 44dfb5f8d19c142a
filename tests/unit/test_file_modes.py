"""Files Cloudios writes are 0600 (checkpoints 0400) and its directories 0700, even under umask 022."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudios.cli.main import main
from cloudios.security import files, keyset
from cloudios.security.audit import AuditEvent, ChainKey
from cloudios.services.audit import AuditTrail
from cloudios.store import SqlRepository
from cloudios.store.audit import SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_store_directory_database_wal_shm_and_migration_lock(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    repo = SqlRepository.sqlite(data, keyset=keyset.generate())
    repo.put_secret("team-a", "token", b"v")  # the open connection keeps -wal and -shm
    assert mode(data) == 0o700
    assert mode(tmp_path / "nested") == 0o700
    for name in ("cloudios.db", "cloudios.db-wal", "cloudios.db-shm", "cloudios.db.migrate-lock"):
        assert mode(data / name) == 0o600, name
    repo.close()


def test_an_existing_database_of_ours_is_tightened(tmp_path: Path) -> None:
    database = tmp_path / "cloudios.db"
    database.touch(mode=0o644)
    assert mode(database) == 0o644
    SqlRepository(f"sqlite:///{database}").close()
    assert mode(database) == 0o600


def test_audit_checkpoints_are_owner_read_only(tmp_path: Path) -> None:
    log = SqlAuditLog.sqlite(tmp_path / "data", chain_key=ChainKey.generate())
    trail = AuditTrail(log, (CheckpointDirectory(tmp_path / "checkpoints"),), Ed25519PrivateKey.generate())
    trail.append(AuditEvent(tenant="team-a", actor="alice", action="approve", target="team-a/r1", details={}))
    trail.checkpoint()
    log.close()
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "cloudios.db") == 0o600
    assert mode(tmp_path / "checkpoints") == 0o700
    [checkpoint] = (tmp_path / "checkpoints").glob("checkpoint-*.json")
    assert mode(checkpoint) == 0o400


def test_the_scan_report_file(tmp_path: Path) -> None:
    manifest = tmp_path / "account.yaml"
    manifest.write_text(
        """\
apiVersion: cloudios.io/v1alpha1
kind: CloudAccount
metadata: {name: paused, namespace: team-a}
spec:
  provider: aws
  suspend: true
  aws:
    accountId: "123456789012"
    roleArn: arn:aws:iam::123456789012:role/r
    externalId: ext-id
    regions: [us-east-1]
"""
    )
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    argv = [
        "scan",
        "-f",
        str(manifest),
        "-o",
        "json",
        "--output-file",
        str(report),
        "--data-dir",
        str(tmp_path / "d"),
    ]
    assert main(argv) == 0
    assert '"recommendations"' in report.read_text()
    assert mode(report) == 0o600
    assert mode(tmp_path / "d") == 0o700
    assert mode(tmp_path / "d" / "cloudios.db") == 0o600


def test_keyset_files_stay_owner_only_when_replaced(tmp_path: Path) -> None:
    path = tmp_path / "keyset.json"
    assert main(["keys", "init", "--keyset", str(path)]) == 0
    assert mode(path) == 0o600
    path.chmod(0o644)  # someone loosened it; the next write replaces the file 0600
    assert main(["keys", "add", "--keyset", str(path)]) == 0
    assert mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keyset.json"]  # no temporary file left


def test_private_helpers_ignore_the_umask(tmp_path: Path) -> None:
    os.umask(0)
    files.write_private(tmp_path / "a", "x")
    files.private_dir(tmp_path / "b" / "c")
    assert (mode(tmp_path / "a"), mode(tmp_path / "b"), mode(tmp_path / "b" / "c")) == (0o600, 0o700, 0o700)
    existing = tmp_path / "mine"
    existing.mkdir(mode=0o755)
    files.private_dir(existing)
    assert mode(existing) == 0o755  # a directory we did not create is left as it is

"""Encrypted store backups in moto's S3: `cloudios backup` round trip, no plaintext, 90-day pruning."""

from __future__ import annotations

import base64
import contextlib
import io
from datetime import timedelta
from pathlib import Path

import boto3.session
import pytest

from cloudios.cli import main as cli_main
from cloudios.providers.aws.objectstore import S3ObjectStore
from cloudios.security import files, keyset
from cloudios.security.audit import AuditEvent, ChainKey, verify_chain
from cloudios.services.backups import BackupError, Backups, object_name
from cloudios.store import SqlRepository
from cloudios.store.audit import SqlAuditLog
from cloudios.store.backup import RestoreError
from tests.support.moto import AwsEnv
from tests.unit.test_store import T0, f, scan

pytestmark = [pytest.mark.aws]
BUCKET = "cloudios-backups-test"
CANARY_SECRET = b"canary-webhook-secret-7f3a9c"
CANARY_RESOURCE = "i-canary0123456789"


@pytest.fixture
def bucket(aws_env: AwsEnv) -> S3ObjectStore:
    boto3.session.Session(region_name="us-east-1").client("s3", endpoint_url=aws_env.url).create_bucket(
        Bucket=BUCKET
    )
    return S3ObjectStore(BUCKET, endpoint_url=aws_env.url, region="us-east-1")


def seed(data: Path, keys: keyset.MasterKeyset, chain: ChainKey) -> None:
    repo = SqlRepository.sqlite(data, keyset=keys)
    repo.upsert_account(tenant="team-a", name="prod", provider="aws", account_id="111111111111", now=T0)
    repo.record_scan(scan("s1", T0), [f(CANARY_RESOURCE), f("i-2")])
    repo.put_secret("team-a", "webhook", CANARY_SECRET)
    repo.close()
    log = SqlAuditLog.sqlite(data, chain_key=chain)
    log.append(
        AuditEvent("team-a", "alice@example.com", "recommendation.approved", "team-a/r1", {"findingId": "x"})
    )
    log.close()


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main.main(list(argv))
    return code, out.getvalue() + err.getvalue()


def test_backup_restore_round_trip_through_the_cli(
    bucket: S3ObjectStore, tmp_path: Path, aws_env: AwsEnv
) -> None:
    keys, chain = keyset.generate(), ChainKey.generate()
    keyset_file = tmp_path / "keyset.json"
    files.write_private(keyset_file, keys.to_json())
    seed(tmp_path / "a", keys, chain)
    where = (
        "--bucket",
        BUCKET,
        "--endpoint-url",
        aws_env.url,
        "--region",
        "us-east-1",
        "--keyset",
        str(keyset_file),
    )
    code, out = cli("backup", "create", *where, "--data-dir", str(tmp_path / "a"))
    assert code == 0, out
    (name,) = bucket.names()

    # The object holds no plaintext: neither the secret, nor a resource id, plain or base64.
    blob = bucket.get(name)
    for canary in (CANARY_SECRET, CANARY_RESOURCE.encode(), b"alice@example.com"):
        assert canary not in blob
        assert base64.b64encode(canary)[:16] not in blob

    code, out = cli("backup", "restore", *where, "--data-dir", str(tmp_path / "b"))
    assert code == 0, out
    assert f"restored {name}" in out
    original, restored = (
        SqlRepository.sqlite(tmp_path / "a", keyset=keys),
        SqlRepository.sqlite(tmp_path / "b", keyset=keys),
    )
    try:
        assert restored.dump() == original.dump()
        assert restored.get_secret("team-a", "webhook") == CANARY_SECRET
        assert {x.finding.resource_id for x in restored.findings("team-a")} == {CANARY_RESOURCE, "i-2"}
    finally:
        original.close()
        restored.close()
    log = SqlAuditLog.sqlite(tmp_path / "b", chain_key=chain)
    try:
        result, _ = verify_chain(log.entries(), chain)
        assert result.ok, result.reason
        assert [e.actor for e in log.readable("team-a")] == ["alice@example.com"]
    finally:
        log.close()

    # Restoring over a store that has data is refused; so is another master key.
    code, out = cli("backup", "restore", *where, "--data-dir", str(tmp_path / "a"))
    assert code == 2
    assert "not empty" in out
    with pytest.raises(BackupError):
        Backups(bucket, keyset.generate()).restore(SqlRepository.sqlite(tmp_path / "c"))


def test_daily_backups_are_pruned_after_90_days_with_a_fake_clock(
    bucket: S3ObjectStore, tmp_path: Path
) -> None:
    keys = keyset.generate()
    seed(tmp_path / "a", keys, ChainKey.generate())
    store = SqlRepository.sqlite(tmp_path / "a", keyset=keys)
    now = [T0]
    service = Backups(bucket, keys, clock=lambda: now[0])
    try:
        assert service.tick(store) == object_name(T0)  # none yet: due at once
        now[0] = T0 + timedelta(hours=23)
        assert service.tick(store) is None  # not a day old
        for day in range(1, 100):
            now[0] = T0 + timedelta(days=day)
            assert service.tick(store) == object_name(now[0])
        taken = [when for _, when in service.backups()]
        # On day 99, backups of days 0..8 are older than 90 days and gone; day 9 onwards stay.
        assert min(taken) == T0 + timedelta(days=9)
        assert len(taken) == 91
        # Even a 90-day-old newest backup is kept: pruning never leaves the bucket empty.
        now[0] = T0 + timedelta(days=400)
        service.prune()
        assert [when for _, when in service.backups()] == [T0 + timedelta(days=99)]
    finally:
        store.close()


def test_restore_refuses_a_dump_of_another_schema_version(tmp_path: Path) -> None:
    store = SqlRepository.sqlite(tmp_path)
    try:
        with pytest.raises(RestoreError, match="schema version"):
            store.restore({"format": "cloudios.io/store-dump/v1", "schemaVersion": 1, "tables": {}})
    finally:
        store.close()

"""Audit log: the keyed chain and signed checkpoints on a clean log, and every tamper case."""

from __future__ import annotations

import base64
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudios.security.audit import (
    ChainKey,
    verify_chain,
)
from cloudios.security.audit_verify import verify
from cloudios.security.checkpoints import (
    key_id,
    sign_checkpoint,
)
from cloudios.services.audit import AuditTrail
from cloudios.store.audit import AuditIntegrityError
from cloudios.store.checkpoint_files import CheckpointDirectory, CheckpointLocationError, checkpoint_dir
from tests.support.audit_log import (
    FIXED_NOW,
    Audit,
    cli,
    event,
    fill,
    forged_next,
    insert_sql,
    recompute,
    tamper,
    verify_cli,
)

# ----------------------------------------------------------------------------- a clean log


def test_a_clean_log_verifies_with_its_checkpoints(audit: Audit) -> None:
    fill(audit.log, 5)
    first = audit.checkpoint()
    fill(audit.log, 5, start=5)
    second = audit.checkpoint()
    empty = audit.checkpoint()  # emitted even when nothing happened
    assert (first.first_seq, first.last_seq) == (1, 5)
    assert (second.first_seq, second.last_seq, second.prev_signature) == (6, 10, first.signature)
    assert (empty.first_seq, empty.last_seq) == (11, 10)
    assert second.chain_key_id == audit.chain_key.key_id
    result = audit.log.verify(audit.trusted(), audit.store)
    assert result.ok, result.reason
    assert (result.entries, result.checkpoints, result.anchored_through) == (10, 3, 10)
    code, out = verify_cli(audit)
    assert code == 0, out
    assert out.startswith(
        f"OK: 10 entries, 3 checkpoints, signed through seq 10 (directory {audit.store.directory})"
    )
    assert f"head seq 10 {audit.log.entries()[-1].hash}" in out


def test_the_chain_is_keyed_so_the_key_matters(audit: Audit) -> None:
    fill(audit.log, 3)
    audit.checkpoint()
    other = ChainKey.generate()
    result, _ = verify_chain(audit.log.entries(), other)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    recorded = audit.log.recorded_checkpoints()
    named = verify(audit.log.entries(), recorded, audit.trusted(), other, latest=recorded[-1])
    assert (named.ok, named.first_bad_seq) == (False, 1)
    assert f"the checkpoints name chain key {audit.chain_key.key_id}, not the key given" in named.reason
    assert repr(audit.chain_key) == "ChainKey()"  # the key never reaches a log line through repr


# ----------------------------------------------------------------------------- the tamper cases


def test_a_forged_append_after_the_last_checkpoint_fails(audit: Audit) -> None:
    fill(audit.log, 10)
    audit.checkpoint()
    tamper(audit, insert_sql(forged_next(audit.log.entries()[-1])))
    code, out = verify_cli(audit)
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 11"), out
    assert "hash mismatch" in out


def test_truncation_after_the_last_checkpoint_fails_because_every_append_is_checkpointed(
    audit: Audit,
) -> None:
    trail = AuditTrail(audit.log, (audit.store,), audit.signing_key)
    for i in range(10):
        trail.append(event(i))
    assert audit.store.latest() == audit.log.recorded_checkpoints()[-1]
    assert audit.store.latest().last_seq == 10  # type: ignore[union-attr]
    # A database attacker drops the newest entries and the checkpoint copies that mention them.
    tamper(
        audit, "DELETE FROM audit_events WHERE seq > 8", "DELETE FROM audit_checkpoints WHERE last_seq > 8"
    )
    code, out = verify_cli(audit)
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 9"), out


def test_truncation_of_entries_no_checkpoint_covers_fails_against_the_seen_head(audit: Audit) -> None:
    fill(audit.log, 10)
    audit.checkpoint()
    fill(audit.log, 2, start=10)  # written, but the checkpoint after them never happened
    code, out = verify_cli(audit)
    assert code == 0, out
    assert "seq 11..12 are not covered by a checkpoint yet; pass --min-seq 12" in out
    tamper(audit, "DELETE FROM audit_events WHERE seq > 10")
    code, out = verify_cli(audit, "--min-seq", "12")
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 11"), out
    assert "truncated" in out


def test_deleting_the_newest_checkpoint_and_truncating_fails(audit: Audit) -> None:
    fill(audit.log, 10)
    audit.checkpoint()
    fill(audit.log, 2, start=10)
    audit.checkpoint()
    # The database attacker deletes the newest checkpoint row and truncates: the store still has it.
    tamper(audit, "DELETE FROM audit_events WHERE seq > 10", "DELETE FROM audit_checkpoints WHERE idx = 2")
    code, out = verify_cli(audit)
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 11"), out
    # An attacker who can also delete the newest file: a verifier that saw seq 12 still notices.
    audit.store.path_for(2).unlink()
    code, out = verify_cli(audit, "--min-seq", "12")
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 11"), out


def test_deleting_all_checkpoints_and_rewriting_fails(
    audit: Audit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The defaults: the checkpoints go to the state directory, not into the data directory.
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("CLOUDIOS_AUDIT_CHECKPOINT_DIR", raising=False)
    audit.store = CheckpointDirectory(checkpoint_dir(data=audit.data))
    assert not audit.store.directory.is_relative_to(audit.data)
    fill(audit.log, 12)
    audit.checkpoint()
    # Everything under the data directory: checkpoint rows gone, entries rewritten with fresh hashes.
    forged = recompute([replace(e, actor="mallory") if e.seq == 3 else e for e in audit.log.entries()])
    tamper(audit, "DELETE FROM audit_checkpoints", "DELETE FROM audit_events", *map(insert_sql, forged))
    args = ("--chain-key", audit.file("chain.key"), "--public-key", audit.file("signing.pub"))
    code, out = cli("verify", "--data-dir", str(audit.data), *args)
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 1"), out
    # Even with the checkpoint files deleted too, nothing verifies without them.
    for path in audit.store.directory.iterdir():
        path.unlink()
    code, out = cli("verify", "--data-dir", str(audit.data), *args)
    assert code == 1, out


def test_a_checkpoint_directory_inside_the_data_directory_is_refused(audit: Audit) -> None:
    with pytest.raises(CheckpointLocationError, match="inside the data directory"):
        checkpoint_dir(audit.data / "audit-checkpoints", data=audit.data)
    code, out = verify_cli(audit, "--checkpoints", str(audit.data / "cp"))
    assert code == 2
    assert "inside the data directory" in out


@pytest.mark.parametrize("which", ["latest", "older"])
def test_a_garbage_checkpoint_file_fails(audit: Audit, which: str) -> None:
    fill(audit.log, 4)
    audit.checkpoint()
    fill(audit.log, 2, start=4)
    audit.checkpoint()
    path = audit.store.path_for(2 if which == "latest" else 1)
    path.chmod(0o600)
    path.write_text("this is not a checkpoint {")
    code, out = verify_cli(audit)
    assert code == 1, out
    assert out.startswith("FAILED at seq "), out
    assert "not a checkpoint" in out


RENUMBER = "UPDATE audit_events SET seq = seq - 1 WHERE seq > 4"
SWAP = (
    "UPDATE audit_events SET seq = -seq WHERE seq IN (4, 5)",
    "UPDATE audit_events SET seq = 9 + seq WHERE seq < 0",
)


@pytest.mark.parametrize(
    ("statements", "seq", "why"),
    [
        (["UPDATE audit_events SET actor = 'mallory' WHERE seq = 6"], 6, "hash mismatch"),
        (["DELETE FROM audit_events WHERE seq = 4"], 4, "gap"),
        (["DELETE FROM audit_events WHERE seq = 4", RENUMBER], 4, "link"),
        (list(SWAP), 4, "link"),
    ],
    ids=["edit", "remove", "remove-and-renumber", "reorder"],
)
def test_editing_removing_or_reordering_a_middle_entry_fails_at_its_seq(
    audit: Audit, statements: list[str], seq: int, why: str
) -> None:
    fill(audit.log, 10)
    audit.checkpoint()
    tamper(audit, *statements)
    code, out = verify_cli(audit)
    assert (code, out.split(":")[0]) == (1, f"FAILED at seq {seq}"), out
    assert why in out


def test_checkpoints_re_signed_with_an_unknown_key_are_rejected(audit: Audit) -> None:
    fill(audit.log, 6)
    audit.checkpoint()
    entries, attacker = audit.log.entries(), Ed25519PrivateKey.generate()
    fake = sign_checkpoint(
        previous=None,
        last_seq=6,
        head_hash=entries[-1].hash,
        chain_key_id=audit.chain_key.key_id,
        signing_key=attacker,
        now=FIXED_NOW,
    )
    result = verify(entries, [], audit.trusted(), audit.chain_key, latest=fake)
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert "unknown key" in result.reason
    # Claiming the trusted key's id does not help either: the signature does not verify.
    claimed = replace(fake, key_id=key_id(audit.signing_key.public_key()))
    assert "bad signature" in verify(entries, [], audit.trusted(), audit.chain_key, latest=claimed).reason
    # Through the CLI: an attacker's checkpoint file replacing the real one.
    path = audit.store.path_for(1)
    path.chmod(0o600)
    path.write_text(fake.to_json())
    code, out = verify_cli(audit)
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 1"), out


def test_forged_missing_or_split_checkpoints_are_rejected(audit: Audit) -> None:
    fill(audit.log, 3)
    one = audit.checkpoint()
    fill(audit.log, 3, start=3)
    two = audit.checkpoint()
    fill(audit.log, 3, start=6)
    three = audit.checkpoint()
    entries, keys, chain = audit.log.entries(), audit.trusted(), audit.chain_key
    assert verify(entries, [one, two], keys, chain, latest=three).ok
    # An edited body no longer matches its signature.
    assert (
        "bad signature" in verify(entries, [one, replace(two, last_seq=5)], keys, chain, latest=three).reason
    )
    # A checkpoint dropped from the middle.
    assert "checkpoint 2 is missing" in verify(entries, [one], keys, chain, latest=three).reason
    # A correctly signed checkpoint that does not chain to its predecessor.
    stranger = replace(one, signature=base64.b64encode(bytes(64)).decode())
    other = sign_checkpoint(
        previous=stranger,
        last_seq=6,
        head_hash=two.head_hash,
        chain_key_id=chain.key_id,
        signing_key=audit.signing_key,
        now=FIXED_NOW,
    )
    assert "does not chain" in verify(entries, [one, other], keys, chain, latest=three).reason
    # Two different checkpoints with one index: the database shows one history, the store another.
    assert "split view" in verify(entries, [one, two, other], keys, chain, latest=three).reason
    # Garbage in the signature field.
    assert "bad signature" in verify(entries, [], keys, chain, latest=replace(one, signature="!!")).reason


def test_a_store_rolled_back_behind_the_database_fails(audit: Audit) -> None:
    fill(audit.log, 3)
    audit.checkpoint()
    fill(audit.log, 3, start=3)
    audit.checkpoint()
    path = audit.store.path_for(2)
    path.chmod(0o600)
    path.unlink()  # the store now claims checkpoint 1 is the latest; the database recorded 2
    result = audit.log.verify(audit.trusted(), audit.store)
    assert not result.ok
    assert "rolled back" in result.reason
    with pytest.raises(AuditIntegrityError, match="disagreement"):
        audit.checkpoint()  # and nothing is signed on top of it


def test_a_published_checkpoint_whose_commit_was_lost_is_adopted(audit: Audit) -> None:
    fill(audit.log, 3)
    audit.checkpoint()
    fill(audit.log, 2, start=3)
    ahead = sign_checkpoint(
        previous=audit.store.latest(),
        last_seq=5,
        head_hash=audit.log.entries()[-1].hash,
        chain_key_id=audit.chain_key.key_id,
        signing_key=audit.signing_key,
        now=FIXED_NOW,
    )
    audit.store.publish(ahead, replacing=audit.store.latest())
    third = audit.checkpoint()
    assert [c.index for c in audit.log.recorded_checkpoints()] == [1, 2, 3]
    assert third.prev_signature == ahead.signature
    assert audit.log.verify(audit.trusted(), audit.store).ok


def test_the_timer_signs_when_the_head_moves_and_hourly_when_quiet(audit: Audit) -> None:
    now = [datetime.now(UTC)]
    trail = AuditTrail(audit.log, (audit.store,), audit.signing_key, clock=lambda: now[0])
    assert trail.checkpoint() is not None  # the first one, even for an empty log
    assert trail.checkpoint() is None  # nothing moved
    audit.log.append(event(1))
    assert trail.checkpoint() is not None
    now[0] += timedelta(minutes=59)
    assert trail.checkpoint() is None
    now[0] += timedelta(minutes=2)
    assert trail.checkpoint() is not None  # a heartbeat: a quiet log still gets fresh checkpoints
    assert audit.log.verify(audit.trusted(), audit.store).ok


def test_update_and_delete_are_refused_by_the_database(audit: Audit) -> None:
    fill(audit.log, 3)
    audit.checkpoint()
    conn = sqlite3.connect(str(audit.data / "cloudios.db"), isolation_level=None)
    try:
        for sql in (
            "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
            "DELETE FROM audit_events WHERE seq = 3",
            "UPDATE audit_checkpoints SET last_seq = 1",
            "DELETE FROM audit_checkpoints",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()
    assert audit.log.verify(audit.trusted(), audit.store).ok
    assert not hasattr(audit.log, "update")
    assert not hasattr(audit.log, "delete")

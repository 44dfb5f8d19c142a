"""Audit log: canonical JSON, the keyed chain, signed checkpoints, every tamper case, one writer."""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import itertools
import json
import multiprocessing
import random
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudios.cli import audit as audit_cli
from cloudios.cli.commands import audit as audit_commands
from cloudios.security.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    ChainKey,
    link_hash,
    load_chain_key,
    next_entry,
    verify_chain,
)
from cloudios.security.audit_verify import verify
from cloudios.security.canonical import CanonicalJsonError, canonical_json
from cloudios.security.checkpoints import (
    Checkpoint,
    key_id,
    private_key_pem,
    public_key_pem,
    sign_checkpoint,
)
from cloudios.services.audit import AuditTrail
from cloudios.store.audit import AuditIntegrityError, SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory, CheckpointLocationError, checkpoint_dir

# ----------------------------------------------------------------------------- fixtures and helpers

_T = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


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


# ----------------------------------------------------------------------------- canonical JSON


def test_rfc8785_key_order_is_by_utf16_code_units() -> None:
    # The sorting example of RFC 8785 section 3.2.3; Python's own sort would put U+FB33 before U+1F600.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = [k for k, _ in json.loads(canonical_json(value), object_pairs_hook=list)]
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_canonical_form_has_no_whitespace_and_ecmascript_escapes() -> None:
    assert canonical_json({"b": [1, True, None], "a": 'x\ny\u001f"\\é'}) == (
        '{"a":"x\\ny\\u001f\\"\\\\é","b":[1,true,null]}'.encode()
    )


def test_same_event_with_reordered_keys_has_identical_hash() -> None:
    details = {"reason": "idle", "findingId": "f1", "monthlySavings": {"amount": "1.00", "currency": "USD"}}
    shuffled = dict(reversed(list(details.items())))
    shuffled["monthlySavings"] = {"currency": "USD", "amount": "1.00"}
    key = ChainKey.generate()
    a = next_entry(replace(event(1), details=details), seq=1, prev_hash="00" * 32, now=_T, key=key)
    b = next_entry(replace(event(1), details=shuffled), seq=1, prev_hash="00" * 32, now=_T, key=key)
    assert a.hash == b.hash


@pytest.mark.parametrize("bad", [1.5, {"x": 0.1}, [float("nan")], 2**53, {"k": {1: "int key"}}, b"bytes"])
def test_floats_big_integers_and_odd_types_are_refused(bad: object) -> None:
    with pytest.raises(CanonicalJsonError):
        canonical_json(bad)


def test_an_event_with_a_float_is_refused_before_it_is_written(audit: Audit) -> None:
    with pytest.raises(CanonicalJsonError):
        audit.log.append(replace(event(1), details={"monthlySavings": 12.5}))
    assert audit.log.entries() == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def _shuffle(value: object, rng: random.Random) -> object:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffle(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffle(v, rng) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(0, 2**32))
def test_canonical_json_is_stable(value: object, seed: int) -> None:
    encoded = canonical_json(value)
    assert canonical_json(_shuffle(value, random.Random(seed))) == encoded  # key order never matters
    assert json.loads(encoded) == value  # it is JSON and means the same
    assert canonical_json(json.loads(encoded)) == encoded  # a fixed point: re-encoding changes nothing
    assert b"\n" not in encoded  # no whitespace between tokens (newlines in strings are escaped)


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
        now=_T,
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
        now=_T,
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
        now=_T,
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


# ----------------------------------------------------------------------------- one writer


def test_100_concurrent_appends_from_threads_make_one_linear_chain(audit: Audit) -> None:
    # Two log objects on one database, as two components of one process would have.
    logs = [audit.log, SqlAuditLog.sqlite(audit.data, chain_key=audit.chain_key)]
    start = threading.Barrier(20)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        start.wait()
        try:
            for i in range(5):
                logs[n % 2].append(event(n * 5 + i, tenant=f"team-{n % 4}"))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logs[1].close()
    assert errors == []
    assert_one_linear_chain(audit, 100)


def _append_from_process(data: str, secret: bytes, worker: int, barrier: threading.Barrier) -> None:
    log = SqlAuditLog.sqlite(data, chain_key=ChainKey(secret))
    barrier.wait()
    for i in range(25):
        log.append(event(worker * 25 + i, tenant=f"team-{worker}"))
    log.close()


def test_100_concurrent_appends_from_processes_make_one_linear_chain(audit: Audit) -> None:
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(4)
    workers = [
        spawn.Process(target=_append_from_process, args=(str(audit.data), audit.chain_key.secret, n, barrier))
        for n in range(4)
    ]
    for process in workers:
        process.start()
    for process in workers:
        process.join(120)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    assert_one_linear_chain(audit, 100)


def assert_one_linear_chain(audit: Audit, n: int) -> None:
    entries = audit.log.entries()
    assert [e.seq for e in entries] == list(range(1, n + 1))
    assert len({e.prev_hash for e in entries}) == n  # no two entries share a predecessor
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(entries))
    audit.checkpoint()
    code, out = verify_cli(audit)
    assert code == 0, out


def test_a_repeat_of_the_newest_event_for_a_target_is_written_once(audit: Audit) -> None:
    log = audit.log
    first = log.append(event(1), skip_repeat=True)
    again = log.append(event(1), skip_repeat=True)
    assert again == first
    log.append(replace(event(1), action="recommendation.dismissed"), skip_repeat=True)
    log.append(event(1), skip_repeat=True)  # approved again after a dismissal: a new decision
    log.append(event(1))  # without skip_repeat every call appends
    assert [e.action.rsplit(".", 1)[1] for e in log.entries()] == [
        "approved",
        "dismissed",
        "approved",
        "approved",
    ]


def test_checkpoint_serialisation_round_trips(audit: Audit) -> None:
    cp = sign_checkpoint(
        previous=None,
        last_seq=0,
        head_hash=GENESIS_HASH.hex(),
        chain_key_id=audit.chain_key.key_id,
        signing_key=audit.signing_key,
        now=_T,
    )
    assert Checkpoint.from_json(cp.to_json()) == cp
    assert verify([], [], audit.trusted(), audit.chain_key, latest=cp).ok
    assert link_hash(audit.chain_key, GENESIS_HASH, {"a": 1}) != unkeyed(GENESIS_HASH, {"a": 1})


# ----------------------------------------------------------------------------- the command line


def test_cli_keygen_checkpoint_and_verify(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CLOUDIOS_AUDIT_CHECKPOINT_DIR",
        "CLOUDIOS_AUDIT_PUBLIC_KEY",
        "CLOUDIOS_AUDIT_CHAIN_KEY_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    data, keys = tmp_path / "data", tmp_path / "keys"
    code, out = cli("keygen", "--out-dir", str(keys))
    assert code == 0, out
    for name in ("audit-chain.key", "audit-signing.key"):
        assert (keys / name).stat().st_mode & 0o777 == 0o600
        assert (keys / name).read_text().strip() not in out  # no key material in messages
    assert cli("keygen", "--out-dir", str(keys))[0] == 2  # never overwrites a key
    chain, signing, public = (
        str(keys / n) for n in ("audit-chain.key", "audit-signing.key", "audit-signing.pub")
    )
    assert cli("verify", "--data-dir", str(data), "--chain-key", chain)[0] == 2  # no database yet
    audit = SqlAuditLog.sqlite(data, chain_key=load_chain_key(chain))
    fill(audit, 4)
    audit.close()
    assert cli("verify", "--data-dir", str(data), "--public-key", public)[0] == 2  # no chain key
    assert cli("verify", "--data-dir", str(data), "--chain-key", chain)[0] == 2  # no public key
    code, out = cli("verify", "--data-dir", str(data), "--chain-key", chain, "--public-key", public)
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 1"), out  # no checkpoint yet: unverifiable
    assert "unverifiable" in out
    code, out = cli("checkpoint", "--data-dir", str(data), "--chain-key", chain, "--signing-key", signing)
    assert code == 0, out
    assert (tmp_path / "state" / "cloudios" / "audit-checkpoints" / "checkpoint-0000000001.json").is_file()
    code, out = cli("verify", "--data-dir", str(data), "--chain-key", chain, "--public-key", public)
    assert code == 0, out
    other = Ed25519PrivateKey.generate()
    (tmp_path / "other.pub").write_bytes(public_key_pem(other.public_key()))
    code, out = cli(
        "verify", "--data-dir", str(data), "--chain-key", chain, "--public-key", str(tmp_path / "other.pub")
    )
    assert (code, out.split(":")[0]) == (1, "FAILED at seq 1"), out
    assert "unknown key" in out


def test_key_files_that_others_can_read_are_refused(audit: Audit) -> None:
    Path(audit.file("chain.key")).chmod(0o644)
    code, out = verify_cli(audit)
    assert code == 2
    assert "too open" in out
    assert audit.chain_key.to_text().decode().strip() not in out

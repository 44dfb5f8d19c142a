"""Audit chain: canonical JSON, tampering (edit, delete, truncate, rewrite), checkpoints, one writer."""

from __future__ import annotations

import argparse
import base64
import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudios.cli import audit as audit_cli
from cloudios.security.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditEvent,
    CanonicalJsonError,
    Checkpoint,
    canonical_json,
    key_id,
    link_hash,
    next_entry,
    public_key_pem,
    sign_checkpoint,
    verify,
    verify_chain,
)
from cloudios.store.audit import AuditIntegrityError, CheckpointStore, SqlAuditLog

# ----------------------------------------------------------------------------- fixtures and helpers

_T = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[SqlAuditLog]:
    audit = SqlAuditLog.sqlite(tmp_path / "data", checkpoint_dir=tmp_path / "checkpoints")
    yield audit
    audit.close()


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


def tamper(log: SqlAuditLog, *statements: str) -> None:
    """TAMPERING, as an attacker with write access to the database file: drop the append-only
    triggers, then edit rows behind the application's back."""
    db = str(log._engine.url.database)
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        for trigger in ("audit_events_no_update", "audit_events_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for sql in statements:
            conn.execute(sql)
    finally:
        conn.close()


def rewrite_rows(log: SqlAuditLog, entries: list[AuditEntry]) -> None:
    """TAMPERING: replace the whole table with the given (recomputed) entries."""
    statements = ["DELETE FROM audit_events"]
    statements += [
        "INSERT INTO audit_events (seq, tenant, time, actor, action, target, details, prev_hash, hash) "
        f"VALUES ({e.seq}, '{e.tenant}', '{e.time}', '{e.actor}', '{e.action}', '{e.target}', "
        f"'{json.dumps(dict(e.details))}', '{e.prev_hash}', '{e.hash}')"
        for e in entries
    ]
    tamper(log, *statements)


def recompute(entries: list[AuditEntry]) -> list[AuditEntry]:
    """What an attacker does after editing: recompute every hash from the start."""
    out: list[AuditEntry] = []
    prev = GENESIS_HASH
    for e in entries:
        digest = link_hash(prev, e.payload())
        out.append(replace(e, prev_hash=prev.hex(), hash=digest.hex()))
        prev = digest
    return out


def keys_of(*private: Ed25519PrivateKey) -> dict[str, object]:
    return {key_id(k.public_key()): k.public_key() for k in private}


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
    a = next_entry(replace(event(1), details=details), seq=1, prev_hash="00" * 32, now=_T)
    b = next_entry(replace(event(1), details=shuffled), seq=1, prev_hash="00" * 32, now=_T)
    assert a.hash == b.hash


@pytest.mark.parametrize("bad", [1.5, {"x": 0.1}, [float("nan")], 2**53, {"k": {1: "int key"}}, b"bytes"])
def test_floats_big_integers_and_odd_types_are_refused(bad: object) -> None:
    with pytest.raises(CanonicalJsonError):
        canonical_json(bad)


def test_an_event_with_a_float_is_refused_before_it_is_written(log: SqlAuditLog) -> None:
    with pytest.raises(CanonicalJsonError):
        log.append(replace(event(1), details={"monthlySavings": 12.5}))
    assert log.entries() == []


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


# ----------------------------------------------------------------------------- chain and checkpoints


def test_a_clean_log_verifies_with_its_checkpoints(log: SqlAuditLog, key: Ed25519PrivateKey) -> None:
    fill(log, 5)
    first = log.checkpoint(key)
    fill(log, 5, start=5)
    second = log.checkpoint(key)
    empty = log.checkpoint(key)  # emitted even when nothing happened
    assert (first.first_seq, first.last_seq) == (1, 5)
    assert (second.first_seq, second.last_seq, second.prev_signature) == (6, 10, first.signature)
    assert (empty.first_seq, empty.last_seq) == (11, 10)
    result = log.verify(keys_of(key))
    assert result.ok, result.reason
    assert (result.entries, result.checkpoints, result.anchored_through) == (10, 3, 10)
    assert [e.seq for e in log.entries()] == list(range(1, 11))
    assert {e.tenant for e in log.entries("team-b")} == set()


def test_editing_one_field_mid_chain_fails_at_that_seq(log: SqlAuditLog, key: Ed25519PrivateKey) -> None:
    fill(log, 10)
    log.checkpoint(key)
    tamper(log, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 6")
    result = log.verify(keys_of(key))
    assert not result.ok
    assert result.first_bad_seq == 6
    assert "hash mismatch" in result.reason


def test_deleting_a_middle_row_fails_as_a_gap_and_renumbering_fails_the_hashes(
    log: SqlAuditLog, key: Ed25519PrivateKey
) -> None:
    fill(log, 10)
    log.checkpoint(key)
    tamper(log, "DELETE FROM audit_events WHERE seq = 4")
    gap = log.verify(keys_of(key))
    assert (gap.ok, gap.first_bad_seq) == (False, 4)
    assert "gap" in gap.reason
    # Closing the gap by renumbering does not help: seq is hashed, and links no longer match.
    tamper(log, "UPDATE audit_events SET seq = seq - 1 WHERE seq > 4")
    renumbered = log.verify(keys_of(key))
    assert (renumbered.ok, renumbered.first_bad_seq) == (False, 4)
    assert "link" in renumbered.reason or "hash" in renumbered.reason


def test_truncation_passes_the_chain_alone_but_fails_the_checkpoint(
    log: SqlAuditLog, key: Ed25519PrivateKey
) -> None:
    fill(log, 10)
    log.checkpoint(key)
    tamper(log, "DELETE FROM audit_events WHERE seq > 7")
    chain_only, _ = verify_chain(log.entries())
    assert chain_only.ok  # documented limit: a shorter chain is still a valid chain
    result = log.verify(keys_of(key))
    assert (result.ok, result.first_bad_seq) == (False, 8)
    assert "truncated" in result.reason


def test_rewriting_the_whole_chain_with_recomputed_hashes_fails_on_the_checkpoint(
    log: SqlAuditLog, key: Ed25519PrivateKey
) -> None:
    fill(log, 10)
    log.checkpoint(key)
    forged = recompute([replace(e, actor="mallory") if e.seq == 3 else e for e in log.entries()])
    rewrite_rows(log, forged)
    assert verify_chain(log.entries())[0].ok  # the chain itself is now consistent
    result = log.verify(keys_of(key))
    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert "rewritten" in result.reason


def test_checkpoints_re_signed_with_an_unknown_key_are_rejected(
    log: SqlAuditLog, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    fill(log, 6)
    log.checkpoint(key)
    forged = recompute([replace(e, target="team-a/other") if e.seq == 2 else e for e in log.entries()])
    attacker = Ed25519PrivateKey.generate()
    fake = sign_checkpoint(previous=None, last_seq=6, head_hash=forged[-1].hash, signing_key=attacker, now=_T)
    result = verify(forged, [fake], keys_of(key))
    assert not result.ok
    assert "unknown key" in result.reason
    # Claiming the trusted key's id does not help either: the signature does not verify.
    claimed = replace(fake, key_id=key_id(key.public_key()))
    result = verify(forged, [claimed], keys_of(key))
    assert not result.ok
    assert "bad signature" in result.reason


def test_forged_or_missing_checkpoints_are_rejected(log: SqlAuditLog, key: Ed25519PrivateKey) -> None:
    fill(log, 3)
    one = log.checkpoint(key)
    fill(log, 3, start=3)
    two = log.checkpoint(key)
    fill(log, 3, start=6)
    three = log.checkpoint(key)
    entries, keys = log.entries(), keys_of(key)
    assert verify(entries, [one, two, three], keys).ok
    # An edited body no longer matches its signature.
    assert "bad signature" in verify(entries, [one, replace(two, last_seq=5), three], keys).reason
    # A checkpoint dropped from the middle breaks the index and the signature chain.
    assert not verify(entries, [one, three], keys).ok
    # A correctly signed checkpoint that does not chain to its predecessor is refused.
    stranger = replace(one, signature=base64.b64encode(bytes(64)).decode())
    other = sign_checkpoint(previous=stranger, last_seq=6, head_hash=two.head_hash, signing_key=key, now=_T)
    assert "does not chain" in verify(entries, [one, other, three], keys).reason
    # Garbage in the signature field.
    assert "bad signature" in verify(entries, [replace(one, signature="!!")], keys).reason


def test_checkpoint_store_files_are_write_once_and_cross_checked(
    log: SqlAuditLog, key: Ed25519PrivateKey, tmp_path: Path
) -> None:
    fill(log, 2)
    cp = log.checkpoint(key)
    store = CheckpointStore(tmp_path / "checkpoints")
    with pytest.raises(FileExistsError):
        store.write(cp)
    # The external copy going missing is detected (the DB still records it) ...
    store.path_for(1).chmod(0o600)
    store.path_for(1).unlink()
    result = log.verify(keys_of(key))
    assert not result.ok
    assert "missing" in result.reason
    # ... and no new checkpoint is signed on top of a store that disagrees with the database.
    with pytest.raises(AuditIntegrityError):
        log.checkpoint(key)


def test_update_and_delete_are_refused_by_the_database(log: SqlAuditLog, key: Ed25519PrivateKey) -> None:
    fill(log, 3)
    log.checkpoint(key)
    conn = sqlite3.connect(str(log._engine.url.database), isolation_level=None)
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
    assert log.verify(keys_of(key)).ok
    assert not hasattr(log, "update")
    assert not hasattr(log, "delete")


def test_100_concurrent_appends_make_one_linear_chain(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    # Two log objects on one database, as two components of one process would have.
    logs = [SqlAuditLog.sqlite(tmp_path, checkpoint_dir=tmp_path / "cp") for _ in range(2)]
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
    assert errors == []
    entries = logs[0].entries()
    assert [e.seq for e in entries] == list(range(1, 101))
    assert len({e.prev_hash for e in entries}) == 100  # no two entries share a predecessor
    assert verify_chain(entries)[0].ok
    logs[1].checkpoint(key)
    assert logs[0].verify(keys_of(key)).ok
    for audit in logs:
        audit.close()


def test_a_repeat_of_the_newest_event_for_a_target_is_written_once(log: SqlAuditLog) -> None:
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


def test_checkpoint_serialisation_round_trips(key: Ed25519PrivateKey) -> None:
    cp = sign_checkpoint(previous=None, last_seq=0, head_hash=GENESIS_HASH.hex(), signing_key=key, now=_T)
    assert Checkpoint.from_json(cp.to_json()) == cp
    assert verify([], [cp], keys_of(key)).ok


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="cloudios")
    audit_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    return audit_cli.run(parser.parse_args(["audit", *argv]))


def test_cli_verify_prints_ok_or_the_first_bad_seq(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDIOS_AUDIT_CHECKPOINT_DIR", raising=False)
    monkeypatch.delenv("CLOUDIOS_AUDIT_PUBLIC_KEY", raising=False)
    data, keys = tmp_path / "data", tmp_path / "keys"
    assert _cli("verify", "--data-dir", str(data)) == 2  # no database yet
    assert _cli("keygen", "--out-dir", str(keys)) == 0
    audit = SqlAuditLog.sqlite(data)
    fill(audit, 4)
    audit.close()
    assert _cli("verify", "--data-dir", str(data)) == 0
    assert "no checkpoints" in capsys.readouterr().out
    signing = str(keys / "audit-signing.key")
    assert _cli("checkpoint", "--data-dir", str(data), "--signing-key", signing) == 0
    assert (data / "audit-checkpoints" / "checkpoint-0000000001.json").is_file()
    assert _cli("verify", "--data-dir", str(data)) == 2  # checkpoints but no key to check them
    public = str(keys / "audit-signing.pub")
    capsys.readouterr()
    assert _cli("verify", "--data-dir", str(data), "--public-key", public) == 0
    assert capsys.readouterr().out.startswith("OK: 4 entries, 1 checkpoints, signed through seq 4")
    tamper(SqlAuditLog.sqlite(data), "UPDATE audit_events SET target = 'team-a/elsewhere' WHERE seq = 2")
    assert _cli("verify", "--data-dir", str(data), "--public-key", public) == 1
    assert capsys.readouterr().out.startswith("FAILED at seq 2:")
    other = Ed25519PrivateKey.generate()
    (tmp_path / "other.pub").write_bytes(public_key_pem(other.public_key()))
    assert _cli("verify", "--data-dir", str(data), "--public-key", str(tmp_path / "other.pub")) == 1

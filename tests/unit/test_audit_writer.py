"""Audit log: one writer (concurrent appends make one linear chain), serialisation, the command line."""

from __future__ import annotations

import itertools
import multiprocessing
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudios.security.audit import (
    GENESIS_HASH,
    ChainKey,
    link_hash,
    load_chain_key,
)
from cloudios.security.audit_verify import verify
from cloudios.security.checkpoints import (
    Checkpoint,
    public_key_pem,
    sign_checkpoint,
)
from cloudios.store.audit import SqlAuditLog
from tests.support.audit_log import (
    FIXED_NOW,
    Audit,
    cli,
    event,
    fill,
    unkeyed,
    verify_cli,
)

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
        now=FIXED_NOW,
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

"""Stored secrets: encrypted through the keyring with their row as associated data, never in clear."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from cloudios.security import keyring, keyset
from cloudios.security.keyring import KeyringError, RetiredKeyError
from cloudios.security.keyset import MasterKeyset
from cloudios.store import SqlRepository, migrations
from cloudios.store.secrets import NoMasterKeyError

CANARY_TOKEN = "ccat_CANARYc4n4ryC4N4RY0123456789abcdef"
CANARY_KUBECONFIG = "apiVersion: v1\nusers:\n- name: canary\n  user: {token: kubeconfig-canary-7f3a9}\n"


def open_repo(data: Path, keys: MasterKeyset | None, **kwargs: int) -> SqlRepository:
    return SqlRepository.sqlite(data, keyset=keys, **kwargs)


def raw(data: Path, statement: str, *params: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(data / "cloudios.db") as conn:
        rows = conn.execute(statement, params).fetchall()
    conn.close()
    return rows


def _forms(canary: str) -> list[str]:
    """The canary as text, and as base64 at each of the three alignments it could be encoded at."""
    forms = [canary]
    for shift in range(3):
        encoded = base64.b64encode(canary[shift:].encode()).decode()
        forms.append(encoded[:-4])  # the tail depends on what follows the canary
    return forms


def test_put_get_replace_delete(tmp_path: Path) -> None:
    repo = open_repo(tmp_path, keyset.generate())
    assert repo.get_secret("team-a", "webhook/daily") is None
    repo.put_secret("team-a", "webhook/daily", b"first")
    repo.put_secret("team-a", "webhook/daily", b"second")
    repo.put_secret("team-b", "webhook/daily", b"b's")
    assert repo.get_secret("team-a", "webhook/daily") == b"second"
    assert repo.get_secret("team-b", "webhook/daily") == b"b's"
    assert repo.delete_secret("team-a", "webhook/daily") is True
    assert repo.delete_secret("team-a", "webhook/daily") is False
    assert repo.get_secret("team-a", "webhook/daily") is None
    assert repo.get_secret("team-b", "webhook/daily") == b"b's"
    repo.close()


def test_without_a_master_key_secrets_are_refused_clearly(tmp_path: Path) -> None:
    repo = open_repo(tmp_path, None)
    with pytest.raises(NoMasterKeyError, match="CLOUDIOS_MASTER_KEY_FILE"):
        repo.put_secret("team-a", "x", b"v")
    repo.close()


def test_no_canary_plaintext_in_the_database_file_or_its_dump(tmp_path: Path) -> None:
    keys = keyset.generate()
    repo = open_repo(tmp_path, keys)
    repo.put_secret("team-a", "cluster-token/prod", CANARY_TOKEN.encode())
    repo.put_secret("team-a", "kubeconfig/prod", CANARY_KUBECONFIG.encode())
    assert repo.get_secret("team-a", "cluster-token/prod") == CANARY_TOKEN.encode()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())  # db, -wal, -shm
    repo.close()
    on_disk += (tmp_path / "cloudios.db").read_bytes()
    with sqlite3.connect(tmp_path / "cloudios.db") as conn:
        dump = "\n".join(conn.iterdump())
    conn.close()
    assert "cluster-token/prod" in dump  # the dump does hold the rows
    for canary in (CANARY_TOKEN, "kubeconfig-canary-7f3a9"):
        for form in _forms(canary):
            assert form.encode() not in on_disk
            assert form not in dump
    for key in keys.keys.values():
        assert key not in on_disk  # nor the master key
    assert "cloudios:v1:" in dump


def test_a_ciphertext_copied_to_another_row_or_tenant_fails(tmp_path: Path) -> None:
    repo = open_repo(tmp_path, keyset.generate())
    repo.put_secret("team-a", "token/one", b"one")
    repo.put_secret("team-a", "token/two", b"two")
    repo.put_secret("team-b", "token/one", b"b")
    [(stolen,)] = raw(tmp_path, "SELECT ciphertext FROM secrets WHERE tenant='team-a' AND name='token/one'")
    raw(tmp_path, "UPDATE secrets SET ciphertext=? WHERE tenant='team-a' AND name='token/two'", str(stolen))
    raw(tmp_path, "UPDATE secrets SET ciphertext=? WHERE tenant='team-b' AND name='token/one'", str(stolen))
    with pytest.raises(InvalidTag):
        repo.get_secret("team-a", "token/two")  # same tenant, other row
    with pytest.raises(InvalidTag):
        repo.get_secret("team-b", "token/one")  # other tenant, same name, its own data key 1
    assert repo.get_secret("team-a", "token/one") == b"one"
    repo.close()


def test_the_encryption_counter_is_stored_and_moves_to_new_data_keys(tmp_path: Path) -> None:
    keys = keyset.generate()
    repo = open_repo(tmp_path, keys, max_encryptions=2)
    for i in range(3):
        repo.put_secret("team-a", f"s{i}", f"v{i}".encode())
    repo.close()
    again = open_repo(tmp_path, keys, max_encryptions=2)  # the counter survives a restart
    for i in range(3, 5):
        again.put_secret("team-a", f"s{i}", f"v{i}".encode())
    status = [(s.version, s.encryptions, s.secrets, s.master_version) for s in again.data_key_status()]
    assert status == [(1, 2, 2, 1), (2, 2, 2, 1), (3, 1, 1, 1)]
    assert [again.get_secret("team-a", f"s{i}") for i in range(5)] == [f"v{i}".encode() for i in range(5)]
    again.close()


def test_rewrap_after_rotation_keeps_every_secret_without_rewriting_it(tmp_path: Path) -> None:
    first = keyset.generate()
    repo = open_repo(tmp_path, first)
    repo.put_secret("team-a", "a", b"alpha")
    repo.put_secret("team-b", "b", b"beta")
    repo.close()
    stored = raw(tmp_path, "SELECT tenant, name, ciphertext FROM secrets ORDER BY tenant")
    rotated = first.with_new_version(primary=True)
    repo = open_repo(tmp_path, rotated)
    assert repo.get_secret("team-a", "a") == b"alpha"  # old ciphertext decrypts after rotation
    assert repo.rewrap_data_keys() == 2
    assert {s.master_version for s in repo.data_key_status()} == {2}
    repo.close()
    assert raw(tmp_path, "SELECT tenant, name, ciphertext FROM secrets ORDER BY tenant") == stored
    wrapped = raw(tmp_path, "SELECT wrapped FROM data_keys")
    assert {keyring.key_id(keyring.from_text(str(w))) for (w,) in wrapped} == {2}
    destroyed = open_repo(tmp_path, rotated.with_min_version(2).without_retired())
    assert destroyed.get_secret("team-b", "b") == b"beta"
    destroyed.close()


def test_raising_min_version_before_rewrap_fails_loudly(tmp_path: Path) -> None:
    first = keyset.generate()
    repo = open_repo(tmp_path, first)
    repo.put_secret("team-a", "a", b"alpha")
    repo.close()
    raised = open_repo(tmp_path, first.with_new_version(primary=True).with_min_version(2))
    with pytest.raises(RetiredKeyError, match="below minVersion 2"):
        raised.get_secret("team-a", "a")
    with pytest.raises(KeyringError):
        raised.rewrap_data_keys()  # needs the retired version to unwrap: lower minVersion first
    raised.close()


def test_secrets_arrive_with_revision_0005(tmp_path: Path) -> None:
    repo = open_repo(tmp_path, None)
    repo.close()
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'cloudios.db'}")
    with engine.connect() as conn:
        revision = migrations.current(conn)
        columns = {c["name"] for c in sa.inspect(conn).get_columns("secrets")}
    engine.dispose()
    assert revision is not None
    assert revision >= "0005"
    assert columns == {"tenant", "name", "key_version", "ciphertext", "created_at", "updated_at"}

"""Keyring: AES-256-GCM envelope encryption, associated data, key ids, rotation, rewrap, min version."""

from __future__ import annotations

import base64
import dataclasses

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from cloudios.security import keyring, keyset
from cloudios.security.keyring import (
    NONCE_BYTES,
    TAG_BYTES,
    AuthenticationError,
    Binding,
    Keyring,
    KeyringError,
    MalformedCiphertextError,
    MemoryDataKeys,
    RetiredKeyError,
    UnknownKeyError,
)
from cloudios.security.keyset import KeysetError, MasterKeyset

HEADER = 5  # format version (1) + key id (4)
ROW = Binding("secrets", "ciphertext", "team-a", "webhook/daily")


def ring(keys: MasterKeyset | None = None, *, limit: int = keyring.DEFAULT_MAX_ENCRYPTIONS) -> Keyring:
    return Keyring(keys or keyset.generate(), MemoryDataKeys(), max_encryptions=limit)


def test_round_trip_and_format() -> None:
    r = ring()
    sealed = r.encrypt(b"s3cr3t", ROW)
    assert r.decrypt(sealed, ROW) == b"s3cr3t"
    assert sealed[0] == 1  # v1
    assert keyring.key_id(sealed) == 1  # the tenant's first data key
    assert len(sealed) == HEADER + NONCE_BYTES + len(b"s3cr3t") + TAG_BYTES
    text = keyring.to_text(sealed)
    assert text.startswith("cloudios:v1:")
    assert keyring.from_text(text) == sealed


@pytest.mark.parametrize(
    ("region", "start", "end"),
    [
        ("nonce", HEADER, HEADER + NONCE_BYTES),
        ("ciphertext", HEADER + NONCE_BYTES, HEADER + NONCE_BYTES + 5),
        ("tag", HEADER + NONCE_BYTES + 5, HEADER + NONCE_BYTES + 5 + TAG_BYTES),
    ],
)
def test_flipping_any_bit_of_nonce_ciphertext_or_tag_fails(region: str, start: int, end: int) -> None:
    r = ring()
    sealed = r.encrypt(b"hello", ROW)
    assert len(sealed) == HEADER + NONCE_BYTES + 5 + TAG_BYTES
    for byte in range(start, end):
        for bit in range(8):
            flipped = bytearray(sealed)
            flipped[byte] ^= 1 << bit
            with pytest.raises(InvalidTag):
                r.decrypt(bytes(flipped), ROW)
    assert r.decrypt(sealed, ROW) == b"hello", region


@pytest.mark.parametrize(
    "elsewhere",
    [
        dataclasses.replace(ROW, row="webhook/weekly"),
        dataclasses.replace(ROW, column="other"),
        dataclasses.replace(ROW, table="tokens"),
    ],
    ids=["row", "column", "table"],
)
def test_moving_a_ciphertext_to_another_row_fails(elsewhere: Binding) -> None:
    r = ring()
    sealed = r.encrypt(b"value", ROW)
    with pytest.raises(InvalidTag, match="failed authentication"):
        r.decrypt(sealed, elsewhere)


def test_moving_a_ciphertext_to_another_tenant_fails() -> None:
    r = ring()
    sealed = r.encrypt(b"value", ROW)
    other = dataclasses.replace(ROW, tenant="team-b")
    with pytest.raises(UnknownKeyError, match="tenant 'team-b' does not have"):
        r.decrypt(sealed, other)  # team-b has no data key 1 yet
    r.encrypt(b"b's own", other)
    with pytest.raises(InvalidTag):
        r.decrypt(sealed, other)  # team-b's data key 1 is a different key


def test_100k_encryptions_never_repeat_a_nonce_and_the_counter_moves_to_new_data_keys() -> None:
    store = MemoryDataKeys()
    r = Keyring(keyset.generate(), store, max_encryptions=30_000)
    sealed = [r.encrypt(b"x", ROW) for _ in range(100_000)]
    nonces = {s[HEADER : HEADER + NONCE_BYTES] for s in sealed}
    assert len(nonces) == 100_000
    assert [keyring.key_id(s) for s in sealed[29_999:30_001]] == [1, 2]
    assert [(k.version, k.encryptions) for k in store.data_keys()] == [
        (1, 30_000),
        (2, 30_000),
        (3, 30_000),
        (4, 10_000),
    ]
    assert r.decrypt(sealed[0], ROW) == r.decrypt(sealed[-1], ROW) == b"x"


def test_the_counter_forces_a_new_data_key_version_at_the_threshold() -> None:
    store = MemoryDataKeys()
    r = Keyring(keyset.generate(), store, max_encryptions=3)
    sealed = [r.encrypt(str(i).encode(), ROW) for i in range(7)]
    assert [keyring.key_id(s) for s in sealed] == [1, 1, 1, 2, 2, 2, 3]
    assert [k.encryptions for k in store.data_keys()] == [3, 3, 1]
    assert [r.decrypt(s, ROW) for s in sealed] == [str(i).encode() for i in range(7)]


def test_after_master_rotation_old_ciphertext_still_decrypts() -> None:
    store = MemoryDataKeys()
    first = keyset.generate()
    old = Keyring(first, store).encrypt(b"before", ROW)
    rotated = Keyring(first.with_new_version(primary=True), store)
    assert rotated.decrypt(old, ROW) == b"before"
    new_tenant = dataclasses.replace(ROW, tenant="team-b")
    assert keyring.key_id(rotated.encrypt(b"after", new_tenant)) == 1
    assert store.current_data_key("team-b").master_version == 2  # type: ignore[union-attr]
    assert store.current_data_key("team-a").master_version == 1  # type: ignore[union-attr]


def test_rewrap_changes_the_wrapping_key_id_without_touching_values() -> None:
    store = MemoryDataKeys()
    first = keyset.generate()
    sealed = Keyring(first, store).encrypt(b"kept", ROW)
    rotated = first.with_new_version(primary=True)
    before = store.data_key("team-a", 1)
    assert before is not None
    assert before.master_version == 1
    assert Keyring(rotated, store).rewrap() == 1
    after = store.data_key("team-a", 1)
    assert after is not None
    assert after.master_version == 2
    assert after.wrapped != before.wrapped
    assert Keyring(rotated, store).rewrap() == 0  # already under the primary
    # Version 1 can now be retired and destroyed: the value opens with version 2 alone.
    only_v2 = rotated.with_min_version(2).without_retired()
    assert only_v2.versions == (2,)
    assert Keyring(only_v2, store).decrypt(sealed, ROW) == b"kept"


def test_raising_min_version_refuses_data_keys_still_wrapped_below_it() -> None:
    store = MemoryDataKeys()
    first = keyset.generate()
    sealed = Keyring(first, store).encrypt(b"old", ROW)
    raised = Keyring(first.with_new_version(primary=True).with_min_version(2), store)
    with pytest.raises(RetiredKeyError, match=r"master-key version 1, below minVersion 2.*keys rewrap"):
        raised.decrypt(sealed, ROW)
    with pytest.raises(RetiredKeyError):
        raised.encrypt(b"new", ROW)  # nor does it keep writing under a retired wrapping


def test_an_unknown_key_id_is_an_explicit_error() -> None:
    r = ring()
    sealed = bytearray(r.encrypt(b"v", ROW))
    sealed[1:5] = (99).to_bytes(4, "big")
    with pytest.raises(UnknownKeyError, match="names data key 99"):
        r.decrypt(bytes(sealed), ROW)
    # A data key wrapped by a master version the keyset does not hold: named, not tried against others.
    store = MemoryDataKeys()
    later = keyset.generate().with_new_version(primary=True)
    value = Keyring(later, store).encrypt(b"v", ROW)
    without_v2 = MasterKeyset({1: later.keys[1]}, 1)
    with pytest.raises(UnknownKeyError, match=r"master-key version 2, which this keyset does not hold"):
        Keyring(without_v2, store).decrypt(value, ROW)


def test_malformed_ciphertexts_are_explicit_errors() -> None:
    r = ring()
    sealed = r.encrypt(b"v", ROW)
    with pytest.raises(MalformedCiphertextError, match="format 2"):
        r.decrypt(b"\x02" + sealed[1:], ROW)
    with pytest.raises(MalformedCiphertextError, match="too short"):
        r.decrypt(sealed[:20], ROW)
    with pytest.raises(MalformedCiphertextError, match="prefix"):
        keyring.from_text("vault:v1:abc")
    with pytest.raises(MalformedCiphertextError, match="base64"):
        keyring.from_text("cloudios:v1:***")


def test_no_key_material_in_reprs_or_messages() -> None:
    keys = keyset.generate().with_new_version(primary=True)
    store = MemoryDataKeys()
    r = Keyring(keys, store)
    sealed = r.encrypt(b"v", ROW)
    data_key = store.data_key("team-a", 1)
    texts = [repr(keys), repr(r), repr(data_key), str(keys)]
    texts += [
        str(_raised(lambda: r.decrypt(sealed, dataclasses.replace(ROW, row="x")))),
        str(_raised(lambda: Keyring(MasterKeyset({1: keys.keys[1]}, 1), store).decrypt(sealed, ROW))),
        str(
            _raised(
                lambda: Keyring(keys.with_new_version(primary=True).with_min_version(3), store).decrypt(
                    sealed, ROW
                )
            )
        ),
    ]
    for text in texts:
        for key in keys.keys.values():
            assert base64.b64encode(key).decode() not in text
            assert key.hex() not in text
    assert "versions=[1, 2]" in repr(keys)
    assert "master_version=2" in repr(data_key)


def _raised(call: object) -> BaseException:
    try:
        call()  # type: ignore[operator]
    except KeyringError as exc:
        return exc
    raise AssertionError("no error raised")


def test_canonical_encoding_is_unambiguous() -> None:
    assert keyring.canonical("ab", "c") != keyring.canonical("a", "bc")
    assert keyring.canonical("a", "") != keyring.canonical("a")


texts = st.text(max_size=40)


@given(plaintext=st.binary(max_size=2048), table=texts, column=texts, tenant=texts, row=texts)
def test_round_trip_property(plaintext: bytes, table: str, column: str, tenant: str, row: str) -> None:
    r = ring()
    where = Binding(table, column, tenant, row)
    sealed = r.encrypt(plaintext, where)
    assert r.decrypt(sealed, where) == plaintext
    assert plaintext not in sealed[HEADER:] or len(plaintext) < 8


@given(
    first=st.tuples(texts, texts, texts),
    second=st.tuples(texts, texts, texts),
)
def test_any_other_binding_fails_property(first: tuple[str, str, str], second: tuple[str, str, str]) -> None:
    r = ring()
    here = Binding(first[0], first[1], "t", first[2])
    there = Binding(second[0], second[1], "t", second[2])
    sealed = r.encrypt(b"bound", here)
    if here == there:
        assert r.decrypt(sealed, there) == b"bound"
    else:
        with pytest.raises(AuthenticationError):
            r.decrypt(sealed, there)


# -- the master keyset ---------------------------------------------------------------------------


def test_a_single_base64_key_is_version_1() -> None:
    raw = bytes(range(32))
    parsed = keyset.parse(base64.b64encode(raw).decode() + "\n", source="CLOUDIOS_MASTER_KEY")
    assert (parsed.versions, parsed.primary, parsed.min_version) == ((1,), 1, 1)
    assert parsed.keys[1] == raw


def test_a_keyset_round_trips_through_its_json_form() -> None:
    keys = (
        keyset.generate().with_new_version(primary=False).with_new_version(primary=True).with_min_version(2)
    )
    again = keyset.parse(keys.to_json(), source="file")
    assert (again.versions, again.primary, again.min_version) == ((1, 2, 3), 3, 2)
    assert dict(again.keys) == dict(keys.keys)
    assert keys.promoted(2).primary == 2
    with pytest.raises(KeysetError, match="below minVersion"):
        keys.promoted(1)


KEY_B64 = base64.b64encode(b"k" * 32).decode()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "CLOUDIOS_MASTER_KEY: empty"),
        ("not base64!", "CLOUDIOS_MASTER_KEY: not valid base64"),
        (base64.b64encode(b"k" * 16).decode(), "decodes to 16 bytes, not 32"),
        ('{"primary": 1, "keys": {"1": "' + base64.b64encode(b"k" * 31).decode() + '"}}', 'keys."1"'),
        ('{"primary": 2, "keys": {"1": "' + KEY_B64 + '"}}', "primary 2 is not one of the key versions 1"),
        ('{"keys": {"1": "' + KEY_B64 + '"}}', '"primary" is missing'),
        ('{"primary": 1, "keys": {"' + KEY_B64 + '": "x"}}', "keys.(entry 1)"),
        ('{"primary": 1, "keys": {"1": "' + KEY_B64 + '"}, "minVersion": 3}', "minVersion 3"),
        ('{"primary": 1, "keys": {"1": "' + KEY_B64 + '"', "not valid JSON (line 1"),
        ('{"primary": 1, "key": {}}', "unknown field(s) key"),
    ],
)
def test_bad_master_keys_are_clear_errors_without_the_key(text: str, message: str) -> None:
    with pytest.raises(KeysetError) as raised:
        keyset.parse(text, source="CLOUDIOS_MASTER_KEY")
    assert message in str(raised.value)
    assert str(raised.value).startswith("CLOUDIOS_MASTER_KEY")
    assert KEY_B64 not in str(raised.value)

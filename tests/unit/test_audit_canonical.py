"""Audit log: canonical JSON (RFC 8785), the form every chain hash is taken over."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudios.security.audit import (
    ChainKey,
    next_entry,
)
from cloudios.security.canonical import CanonicalJsonError, canonical_json
from tests.support.audit_log import (
    FIXED_NOW,
    Audit,
    event,
)

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
    a = next_entry(replace(event(1), details=details), seq=1, prev_hash="00" * 32, now=FIXED_NOW, key=key)
    b = next_entry(replace(event(1), details=shuffled), seq=1, prev_hash="00" * 32, now=FIXED_NOW, key=key)
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

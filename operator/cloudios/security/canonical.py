"""Canonical JSON (RFC 8785, the float-free subset): the one byte form that audit data is hashed in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# I-JSON (RFC 7493) safe integers: what every JSON parser, JavaScript included, reads exactly.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32


class CanonicalJsonError(ValueError):
    """A value that has no canonical JSON form in our subset (floats, big integers, odd types)."""


def canonical_json(value: object) -> bytes:
    """RFC 8785 (JCS) for the float-free subset: sorted keys, no whitespace, UTF-8.

    Keys are sorted by UTF-16 code units as JCS requires. Floats are refused (send decimals as
    strings), and so are integers outside the I-JSON range, non-string keys, lone surrogates
    and any type other than None, bool, int, str, list/tuple and mapping.
    """
    parts: list[str] = []
    _encode(value, parts, 0)
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError:
        raise CanonicalJsonError("string with a lone surrogate has no UTF-8 form") from None


def _encode(value: object, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CanonicalJsonError(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, Mapping):
        _encode_object(value, out, depth)
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out, depth + 1)
        out.append("]")
    else:
        out.append(_scalar(value))


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise CanonicalJsonError(f"integer {value} is outside the I-JSON range; use a string")
        return str(int(value))
    if isinstance(value, float):
        raise CanonicalJsonError("floats are refused in audit data; use a decimal string")
    if isinstance(value, str):
        # Python's escaping with ensure_ascii=False is ECMAScript's: \" \\ \b \f \n \r \t, \u00xx.
        return json.dumps(value, ensure_ascii=False)
    raise CanonicalJsonError(f"{type(value).__name__} has no canonical JSON form; convert it first")


def _encode_object(value: Mapping[Any, Any], out: list[str], depth: int) -> None:
    keys = list(value.keys())
    for key in keys:
        if not isinstance(key, str):
            raise CanonicalJsonError(f"object keys must be strings, not {type(key).__name__}")
    out.append("{")
    for i, key in enumerate(sorted(keys, key=_utf16_order)):
        if i:
            out.append(",")
        out.append(_scalar(key))
        out.append(":")
        _encode(value[key], out, depth + 1)
    out.append("}")


def _utf16_order(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")

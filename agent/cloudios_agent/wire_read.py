"""Strict readers for wire payloads: every field checked, unknown keys refused, sizes bounded.

A ``WireError`` names the JSON path of the first bad field (``inventory.pods[3].node``), so ingest
can answer 400 with a message that says exactly what to fix. Also the bounded body reader:
decompression that stops at a byte limit (gzip bombs) and JSON whose nesting is limited.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")

NAME_MAX = 253
_CONTROL = frozenset(chr(c) for c in [*range(0x20), 0x7F])
"""Kubernetes object names and label values are at most 253 characters."""


class WireError(ValueError):
    """A payload broke the wire contract; ``path`` is where, ``status`` the HTTP status to answer."""

    def __init__(self, path: str, message: str, *, status: int = 400) -> None:
        super().__init__(f"{path or 'body'}: {message}")
        self.path = path
        self.status = status


class Reader:
    """Reads one JSON object's fields; ``done()`` refuses keys nobody read."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, Mapping):
            raise WireError(path, "must be an object")
        self._data: Mapping[str, Any] = data
        self._path = path
        self._seen: set[str] = set()

    def at(self, key: str) -> str:
        """The JSON path of ``key`` in this object."""
        return f"{self._path}.{key}" if self._path else key

    def _get(self, key: str, *, required: bool) -> Any:
        self._seen.add(key)
        if key not in self._data or self._data[key] is None:
            if required:
                raise WireError(self.at(key), "is required")
            return None
        return self._data[key]

    def text(self, key: str, *, required: bool = True, max_len: int = NAME_MAX) -> Any:
        value = self._get(key, required=required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise WireError(self.at(key), "must be a string")
        if len(value) > max_len:
            raise WireError(self.at(key), f"is longer than {max_len} characters")
        if any(c in _CONTROL for c in value):
            raise WireError(self.at(key), "contains control characters")
        return value

    def choice(self, key: str, options: frozenset[str], *, required: bool = True) -> Any:
        value = self.text(key, required=required, max_len=64)
        if value is not None and value not in options:
            raise WireError(self.at(key), f"must be one of {', '.join(sorted(options))}")
        return value

    def integer(self, key: str, *, required: bool = True, low: int = 0, high: int = 2**62) -> Any:
        value = self._get(key, required=required)
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise WireError(self.at(key), "must be an integer")
        if not low <= value <= high:
            raise WireError(self.at(key), f"must be between {low} and {high}")
        return value

    def number(self, key: str, *, required: bool = True, high: float = 1e19) -> Any:
        value = self._get(key, required=required)
        if value is None:
            return None
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise WireError(self.at(key), "must be a number")
        if not 0 <= value <= high:  # also refuses NaN
            raise WireError(self.at(key), f"must be between 0 and {high:g}")
        return float(value)

    def flag(self, key: str, *, default: bool = False) -> bool:
        value = self._get(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise WireError(self.at(key), "must be true or false")
        return value

    def time(self, key: str, *, required: bool = True) -> Any:
        value = self.text(key, required=required, max_len=40)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise WireError(self.at(key), "must be an RFC 3339 time such as 2026-01-31T12:00:00Z") from None
        if parsed.tzinfo is None:
            raise WireError(self.at(key), "must carry a time zone (end it with Z)")
        return parsed.astimezone(UTC)

    def obj(self, key: str, parse: Callable[[Reader], T], *, required: bool = True) -> T | None:
        value = self._get(key, required=required)
        if value is None:
            return None
        reader = Reader(value, self.at(key))
        result = parse(reader)
        reader.done()
        return result

    def items(self, key: str, parse: Callable[[Reader], T], *, max_items: int) -> tuple[T, ...]:
        value = self._get(key, required=False)
        if value is None:
            return ()
        if not isinstance(value, list):
            raise WireError(self.at(key), "must be a list")
        if len(value) > max_items:
            raise WireError(self.at(key), f"has more than {max_items} items", status=413)
        out: list[T] = []
        for i, item in enumerate(value):
            reader = Reader(item, f"{self.at(key)}[{i}]")
            out.append(parse(reader))
            reader.done()
        return tuple(out)

    def strings(self, key: str, *, max_items: int, max_len: int = NAME_MAX) -> tuple[str, ...]:
        value = self._get(key, required=False)
        if value is None:
            return ()
        if not isinstance(value, list) or len(value) > max_items:
            raise WireError(self.at(key), f"must be a list of at most {max_items} strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or len(item) > max_len:
                raise WireError(f"{self.at(key)}[{i}]", f"must be a string of at most {max_len} characters")
        return tuple(value)

    def raw(self, key: str) -> Any:
        return self._get(key, required=False)

    def done(self) -> None:
        extra = sorted(set(self._data) - self._seen)
        if extra:
            raise WireError(self.at(extra[0]), "is not a field of this wire version")


def read_body(body: bytes, *, encoding: str | None, max_bytes: int, max_depth: int) -> object:
    """Decompress (gzip or identity) at most ``max_bytes`` and parse JSON nested at most ``max_depth``.

    A body that would inflate past ``max_bytes`` raises status 413 without inflating the rest.
    """
    coding = (encoding or "identity").strip().lower()
    if coding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            text = inflater.decompress(body, max_bytes + 1)
        except zlib.error:
            raise WireError("", "is not valid gzip") from None
        if len(text) > max_bytes or inflater.unconsumed_tail:
            raise WireError("", f"inflates to more than {max_bytes} bytes", status=413)
        if not inflater.eof:
            raise WireError("", "is a truncated gzip stream")
    elif coding == "identity":
        if len(body) > max_bytes:
            raise WireError("", f"is larger than {max_bytes} bytes", status=413)
        text = body
    else:
        raise WireError("", f"Content-Encoding {coding[:20]!r} is not supported (use gzip)", status=415)
    try:
        data = json.loads(text)
    except RecursionError:
        raise WireError("", f"is nested deeper than {max_depth} levels") from None
    except ValueError:
        raise WireError("", "is not valid UTF-8 JSON") from None
    _check_depth(data, max_depth)
    return data


def _check_depth(data: object, max_depth: int) -> None:
    """Refuse JSON nested deeper than ``max_depth`` (iterative: no recursion on hostile input)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > max_depth:
                raise WireError("", f"is nested deeper than {max_depth} levels")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))

"""Incremental JSON reading: walk a huge object key by key, decoding only small values at once.

AWS Price List offer files hold hundreds of megabytes in two objects (``products`` and
``terms``) made of many small entries. ``JsonStream`` reads text chunks into a sliding buffer,
lets the caller iterate an object's keys, and decodes each entry with the C-accelerated
``json`` scanner, so memory stays bounded by the largest single entry plus one chunk.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

_WHITESPACE = " \t\n\r"
_DELIMITERS = _WHITESPACE + ",:]}"
_COMPACT_AT = 1 << 20
_MAX_VALUE = 64 << 20  # no single entry of an offer file comes near this


class JsonStreamError(ValueError):
    """The stream is not the JSON shape the reader expected."""


class JsonStream:
    """A cursor over a JSON document arriving as byte or text chunks."""

    def __init__(self, chunks: Iterable[bytes | str]) -> None:
        self._chunks = iter(chunks)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._decoder = json.JSONDecoder(parse_float=Decimal)
        self._buf = ""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        """Append the next chunk; False at the end of the input."""
        if self._eof:
            return False
        if self._pos > _COMPACT_AT:
            self._buf, self._pos = self._buf[self._pos :], 0
        for chunk in self._chunks:
            text = self._utf8.decode(chunk) if isinstance(chunk, bytes) else chunk
            if text:
                self._buf += text
                return True
        self._buf += self._utf8.decode(b"", final=True)
        self._eof = True
        return False

    def _peek(self) -> str:
        """The next non-whitespace character ('' at the end), without consuming it."""
        while True:
            while self._pos < len(self._buf) and self._buf[self._pos] in _WHITESPACE:
                self._pos += 1
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _expect(self, char: str) -> None:
        found = self._peek()
        if found != char:
            raise JsonStreamError(f"expected '{char}' at offset {self._pos}, found '{found}'")
        self._pos += 1

    def read_value(self) -> Any:
        """Decode the next complete value (meant for small ones: an entry, a string, a number)."""
        self._peek()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buf) - self._pos < _MAX_VALUE and self._fill():
                    continue
                raise JsonStreamError(f"invalid JSON at offset {exc.pos}: {exc.msg}") from exc
            # A number cut by a chunk boundary ("12345." of "12345.5") decodes early: a complete
            # value is always followed by a delimiter, so without one, read on and decode again.
            incomplete = end == len(self._buf) or self._buf[end] not in _DELIMITERS
            if incomplete and self._fill():
                continue
            self._pos = end
            return value

    def iter_object(self) -> Iterator[str]:
        """Yield an object's keys; the caller consumes each value before asking for the next key."""
        self._expect("{")
        if self._peek() == "}":
            self._pos += 1
            return
        while True:
            key = self.read_value()
            if not isinstance(key, str):
                raise JsonStreamError(f"object key expected before offset {self._pos}")
            self._expect(":")
            yield key
            separator = self._peek()
            self._pos += 1
            if separator == "}":
                return
            if separator != ",":
                raise JsonStreamError(f"expected ',' or '}}' at offset {self._pos - 1}")

    def skip_value(self) -> None:
        """Consume the next value, walking objects entry by entry so big ones never load whole."""
        if self._peek() == "{":
            for _ in self.iter_object():
                self.skip_value()
        else:
            self.read_value()


def read_chunks(stream: Any, size: int = 1 << 20) -> Iterator[bytes | str]:
    """Chunks of a binary or text file object."""
    while chunk := stream.read(size):
        yield chunk

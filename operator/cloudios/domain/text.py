"""Untrusted text (tags, names, descriptions, CR fields) made safe to store and show: printable, bounded."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Unicode format characters that reorder or hide text ("Trojan Source", CVE-2021-42574).
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
TAG_MAX = 256
"""AWS allows 256 characters in a tag value (128 in a key); other clouds allow fewer."""


_WHITESPACE = frozenset("\t\n\r\v\f\x1c\x1d\x1e\x1f\x85\u2028\u2029")  # shown as one space each


def _clean(ch: str) -> str:
    if ch in _WHITESPACE:
        return " "
    return "" if ch in _BIDI or unicodedata.category(ch) == "Cc" else ch


def printable(text: str, limit: int | None = None) -> str:
    """``text`` without control characters (escape sequences, OSC-8 links, NUL, bidi overrides).

    Whitespace controls and line separators become spaces; every other control character is
    dropped. With ``limit``, the result is cut to that many characters, ending in an ellipsis.
    """
    out = text if text.isprintable() else "".join(map(_clean, text))
    if limit is not None and len(out) > limit:
        out = out[: max(0, limit - 1)] + "…"
    return out


def _tag(text: str) -> str:
    return printable(text, TAG_MAX)


UntrustedText = Annotated[str, AfterValidator(_tag)]
"""A string that came from outside (a cloud tag, a resource's own name or description)."""

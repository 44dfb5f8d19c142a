"""Per-cluster agent tokens: minted here, recognisable anywhere, checked before any lookup.

A token is ``cld_agt_`` (``security.prefixes.CLUSTER_TOKEN_PREFIX`` plus a kind marker), 43 base62
characters of 256 random bits, and 6 base62 characters of the CRC32 of everything before them,
57 characters in all (the format of GitHub's tokens: a prefix that scanners and redaction know,
and a checksum that catches a truncated or mistyped token without a database lookup). The store
keeps only ``digest(token)`` (SHA-256, hex) for lookup and the keyring ciphertext for rotation:
a 256-bit random token needs a fast hash, not a password hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import zlib

from cloudios.security.prefixes import CLUSTER_TOKEN_PREFIX

KIND = "agt_"
PREFIX = CLUSTER_TOKEN_PREFIX + KIND
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_BITS = 256
BODY_LENGTH = 43
"""base62 characters of 256 bits: 62**43 > 2**256 > 62**42."""
CHECKSUM_LENGTH = 6
"""base62 characters of a CRC32: 62**6 > 2**32."""
LENGTH = len(PREFIX) + BODY_LENGTH + CHECKSUM_LENGTH
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def _base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(ALPHABET[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def _checksum(head: str) -> str:
    return _base62(zlib.crc32(head.encode("ascii")), CHECKSUM_LENGTH)


def mint() -> str:
    """A new token (shown once: written into the tenant's Secret, never logged)."""
    head = PREFIX + _base62(secrets.randbits(RANDOM_BITS), BODY_LENGTH)
    return head + _checksum(head)


def well_formed(token: str) -> bool:
    """Prefix, length, alphabet and checksum are right; says nothing about whether it is valid."""
    if len(token) != LENGTH or not token.startswith(PREFIX):
        return False
    rest = token[len(PREFIX) :]
    if any(c not in _INDEX for c in rest):
        return False
    head, check = token[:-CHECKSUM_LENGTH], token[-CHECKSUM_LENGTH:]
    return hmac.compare_digest(_checksum(head), check)


def digest(token: str) -> str:
    """What the store keeps and looks tokens up by: SHA-256 of the token, lowercase hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))

"""Standard Webhooks signatures: whsec_ secrets, HMAC-SHA256 over id.timestamp.body, v1 headers."""

# https://www.standardwebhooks.com (spec/standard-webhooks.md): the signed content is
# "{webhook-id}.{webhook-timestamp}.{body}", the signature "v1," + base64(HMAC-SHA256(secret, content)),
# the secret base64 after the "whsec_" prefix (24 to 64 bytes), and several signatures are
# space-delimited in webhook-signature so that a secret can be rotated without a gap.

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64
ID, TIMESTAMP, SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"


class SecretFormatError(ValueError):
    """A signing secret that is not whsec_ followed by base64 of 24 to 64 bytes (message has no value)."""


def parse_secret(text: str) -> bytes:
    """The key bytes of a ``whsec_<base64>`` secret."""
    value = text.strip()
    if not value.startswith(PREFIX):
        raise SecretFormatError(f"the signing secret must start with '{PREFIX}' (Standard Webhooks)")
    try:
        key = base64.b64decode(value[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise SecretFormatError(f"the signing secret must be '{PREFIX}' followed by base64") from None
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        raise SecretFormatError(
            f"the signing secret must decode to {MIN_BYTES} to {MAX_BYTES} bytes, not {len(key)}"
        )
    return key


def generate_secret(size: int = 32) -> str:
    """A new ``whsec_`` secret (for docs and tests; users create theirs)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(size)).decode()


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of a delivery."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def headers(keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; one signature per key (new first, then old during a
    rotation's overlap), space-delimited."""
    signatures = " ".join(signature(key, msg_id, timestamp, body) for key in keys)
    if not signatures:
        raise ValueError("a delivery needs at least one signing key")
    return {ID: msg_id, TIMESTAMP: str(timestamp), SIGNATURE: signatures}

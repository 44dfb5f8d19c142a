"""Tamper-evident audit chain: entries linked by HMAC-SHA-256 under a key the database never holds (pure)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

from cloudios.security.canonical import CanonicalJsonError, canonical_json

JsonValue: TypeAlias = "bool | int | str | Sequence[JsonValue] | Mapping[str, JsonValue] | None"

CHAIN_DOMAIN = b"audit-v2"
GENESIS_HASH = bytes(32)
CHAIN_KEY_BYTES = 32
_KEY_ID_LABEL = b"cloudios audit chain key id"
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AuditFormatError(ValueError):
    """An entry or checkpoint that is malformed before any hash is checked."""


class AuditKeyError(ValueError):
    """A key file that is missing, unreadable, too open, or not a key of the expected kind."""


# --------------------------------------------------------------------------- keys


def read_secret_file(path: str | Path) -> bytes:
    """A key file's bytes; refuses files that other users can read or anyone else can write."""
    file = Path(path)
    try:
        mode = file.stat().st_mode
        data = file.read_bytes()
    except OSError as exc:
        raise AuditKeyError(f"{file}: cannot read the key file ({exc.strerror or exc})") from None
    if mode & (stat.S_IRWXO | stat.S_IWGRP):
        raise AuditKeyError(
            f"{file}: permissions {stat.filemode(mode)} are too open for a secret key; "
            f"run `chmod 600 {file}` (a mounted Secret: defaultMode 0400 or 0440)"
        )
    return data


@dataclass(frozen=True)
class ChainKey:
    """The HMAC key of the chain. Whoever lacks it cannot append, edit or rewrite undetected."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < CHAIN_KEY_BYTES:
            raise AuditKeyError(f"the audit chain key must be at least {CHAIN_KEY_BYTES} bytes")

    @property
    def key_id(self) -> str:
        """Names the key in checkpoints without revealing it."""
        return "hmac-sha256:" + hmac.new(self.secret, _KEY_ID_LABEL, hashlib.sha256).hexdigest()[:32]

    def mac(self, data: bytes) -> bytes:
        return hmac.new(self.secret, data, hashlib.sha256).digest()

    @classmethod
    def generate(cls) -> ChainKey:
        return cls(secrets.token_bytes(CHAIN_KEY_BYTES))

    def to_text(self) -> bytes:
        """The key file's content: base64 and a newline (what `cloudios audit keygen` writes)."""
        return base64.b64encode(self.secret) + b"\n"


def load_chain_key(path: str | Path) -> ChainKey:
    """The chain key from a file or a mounted Secret (base64 of at least 32 random bytes)."""
    text = read_secret_file(path).strip()
    try:
        return ChainKey(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise AuditKeyError(
            f"{path}: not an audit chain key (base64 of 32 random bytes, as `cloudios audit keygen` writes)"
        ) from None


# --------------------------------------------------------------------------- entries and links


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z, the one time format that is hashed."""
    if moment.tzinfo is None:
        raise AuditFormatError("naive datetime refused: audit times are timezone-aware UTC")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def is_time(text: str) -> bool:
    return bool(_TIME_PATTERN.match(text))


def is_hash(text: str) -> bool:
    return bool(_HEX64.match(text))


@dataclass(frozen=True)
class AuditEvent:
    """What a caller records; the log gives it a seq, a time (if absent) and its hashes."""

    tenant: str
    actor: str
    action: str
    target: str
    details: Mapping[str, JsonValue] = field(default_factory=dict)
    time: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One link of the chain: the hashed payload plus the previous and own hash (hex)."""

    seq: int
    tenant: str
    actor: str
    action: str
    target: str
    time: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def payload(self) -> dict[str, Any]:
        """Exactly what is hashed (JCS of this)."""
        return {
            "seq": self.seq,
            "tenant": self.tenant,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "time": self.time,
            "details": dict(self.details),
        }


def link_hash(key: ChainKey, prev_hash: bytes, payload: Mapping[str, Any]) -> bytes:
    """h_i = HMAC-SHA-256(chain key, "audit-v2" || h_{i-1} || JCS(entry_i))."""
    if len(prev_hash) != len(GENESIS_HASH):
        raise AuditFormatError("previous hash must be 32 bytes")
    return key.mac(CHAIN_DOMAIN + prev_hash + canonical_json(payload))


def next_entry(event: AuditEvent, *, seq: int, prev_hash: str, now: datetime, key: ChainKey) -> AuditEntry:
    """The entry that follows a head with ``prev_hash`` (hex) at ``seq``; validates the event."""
    for name in ("tenant", "actor", "action", "target"):
        if not getattr(event, name):
            raise AuditFormatError(f"audit event needs a non-empty {name}")
    details = dict(event.details)
    canonical_json(details)  # refuse floats and odd types before anything is written
    entry = AuditEntry(
        seq=seq,
        tenant=event.tenant,
        actor=event.actor,
        action=event.action,
        target=event.target,
        time=format_time(event.time or now),
        details=details,
        prev_hash=prev_hash,
        hash="",
    )
    digest = link_hash(key, bytes.fromhex(prev_hash), entry.payload())
    return replace(entry, hash=digest.hex())


# --------------------------------------------------------------------------- the chain alone


@dataclass(frozen=True)
class VerifyResult:
    """ok, or the first sequence number shown to be bad and why."""

    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""
    entries: int = 0
    checkpoints: int = 0
    anchored_through: int = 0
    head_hash: str = ""


def verify_chain(entries: Sequence[AuditEntry], key: ChainKey) -> tuple[VerifyResult, list[bytes]]:
    """Recompute every link from seq 1; returns the result and the recomputed head after each seq.

    Without the key nobody can produce a valid link, so edits, insertions, reordering and appended
    forgeries fail here. Dropping the newest entries leaves a valid chain: checkpoints catch that.
    """
    heads: list[bytes] = [GENESIS_HASH]

    def fail(seq: int, reason: str) -> tuple[VerifyResult, list[bytes]]:
        return VerifyResult(ok=False, first_bad_seq=seq, reason=reason, entries=len(entries)), heads

    for expected, entry in enumerate(sorted(entries, key=lambda e: e.seq), start=1):
        if entry.seq != expected:
            return fail(expected, f"gap: seq {expected} is missing (the next present is {entry.seq})")
        if entry.prev_hash != heads[-1].hex():
            return fail(entry.seq, f"seq {entry.seq}: prev_hash does not link to seq {expected - 1}")
        if not is_time(entry.time) or not isinstance(entry.details, Mapping):
            return fail(entry.seq, f"seq {entry.seq}: malformed time or details")
        try:
            digest = link_hash(key, heads[-1], entry.payload())
        except (CanonicalJsonError, AuditFormatError) as exc:
            return fail(entry.seq, f"seq {entry.seq}: {exc}")
        if not hmac.compare_digest(digest.hex(), entry.hash):
            return fail(
                entry.seq,
                f"seq {entry.seq}: hash mismatch (the entry changed after it was written, or was written "
                "without the chain key)",
            )
        heads.append(digest)
    return VerifyResult(ok=True, entries=len(entries), head_hash=heads[-1].hex()), heads

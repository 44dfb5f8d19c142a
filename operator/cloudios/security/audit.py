"""Tamper-evident audit chain: canonical JSON, SHA-256 links and Ed25519-signed checkpoints (pure)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

JsonValue: TypeAlias = "bool | int | str | Sequence[JsonValue] | Mapping[str, JsonValue] | None"

CHAIN_DOMAIN = b"audit-v1"
CHECKPOINT_DOMAIN = b"audit-checkpoint-v1"
GENESIS_HASH = bytes(32)
# I-JSON (RFC 7493) safe integers: what every JSON parser, JavaScript included, reads exactly.
MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH = 32
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TIME_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


class CanonicalJsonError(ValueError):
    """A value that has no canonical JSON form in our subset (floats, big integers, odd types)."""


class AuditFormatError(ValueError):
    """An entry or checkpoint that is malformed before any hash is checked."""


# --------------------------------------------------------------------------- canonical JSON


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


# --------------------------------------------------------------------------- entries and links


def format_time(moment: datetime) -> str:
    """ISO 8601 UTC with microseconds and a Z, the one time format that is hashed."""
    if moment.tzinfo is None:
        raise AuditFormatError("naive datetime refused: audit times are timezone-aware UTC")
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


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


def link_hash(prev_hash: bytes, payload: Mapping[str, Any]) -> bytes:
    """h_i = SHA-256("audit-v1" || h_{i-1} || JCS(entry_i))."""
    if len(prev_hash) != len(GENESIS_HASH):
        raise AuditFormatError("previous hash must be 32 bytes")
    return hashlib.sha256(CHAIN_DOMAIN + prev_hash + canonical_json(payload)).digest()


def next_entry(event: AuditEvent, *, seq: int, prev_hash: str, now: datetime) -> AuditEntry:
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
    digest = link_hash(bytes.fromhex(prev_hash), entry.payload())
    return replace(entry, hash=digest.hex())


# --------------------------------------------------------------------------- checkpoints


def key_id(public_key: Ed25519PublicKey) -> str:
    """Fingerprint that selects the verifying key (keys rotate over the 7-year retention)."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement: entries first_seq..last_seq exist and the head hash is head_hash."""

    index: int
    first_seq: int
    last_seq: int
    head_hash: str
    prev_signature: str
    key_id: str
    time: str
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """Everything but the signature: what is signed."""
        return {
            "version": 1,
            "index": self.index,
            "firstSeq": self.first_seq,
            "lastSeq": self.last_seq,
            "headHash": self.head_hash,
            "prevSignature": self.prev_signature,
            "keyId": self.key_id,
            "time": self.time,
        }

    def to_json(self) -> str:
        return canonical_json({**self.body(), "signature": self.signature}).decode("utf-8") + "\n"

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        try:
            data = json.loads(text)
            if data.get("version") != 1:
                raise AuditFormatError(f"unknown checkpoint version {data.get('version')!r}")
            return cls(
                index=int(data["index"]),
                first_seq=int(data["firstSeq"]),
                last_seq=int(data["lastSeq"]),
                head_hash=str(data["headHash"]),
                prev_signature=str(data["prevSignature"]),
                key_id=str(data["keyId"]),
                time=str(data["time"]),
                signature=str(data["signature"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AuditFormatError(f"malformed checkpoint: {exc}") from None


def sign_checkpoint(
    *,
    previous: Checkpoint | None,
    last_seq: int,
    head_hash: str,
    signing_key: Ed25519PrivateKey,
    now: datetime,
) -> Checkpoint:
    """The checkpoint after ``previous`` covering up to ``last_seq`` (emitted even when empty)."""
    unsigned = Checkpoint(
        index=(previous.index + 1) if previous else 1,
        first_seq=(previous.last_seq + 1) if previous else 1,
        last_seq=last_seq,
        head_hash=head_hash,
        prev_signature=previous.signature if previous else "",
        key_id=key_id(signing_key.public_key()),
        time=format_time(now),
    )
    signature = signing_key.sign(CHECKPOINT_DOMAIN + canonical_json(unsigned.body()))
    return replace(unsigned, signature=base64.b64encode(signature).decode("ascii"))


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    """An Ed25519 private key (PKCS#8 PEM) from a file or a mounted Secret, never from the DB."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditFormatError(f"{path}: not an Ed25519 private key")
    return key


def load_public_keys(paths: Iterable[str | Path]) -> dict[str, Ed25519PublicKey]:
    """Trusted verifying keys by key id; a file may hold a public or (for tests) a private key."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        data = Path(path).read_bytes()
        if b"PRIVATE KEY" in data:
            public = load_signing_key(path).public_key()
        else:
            loaded = serialization.load_pem_public_key(data)
            if not isinstance(loaded, Ed25519PublicKey):
                raise AuditFormatError(f"{path}: not an Ed25519 public key")
            public = loaded
        keys[key_id(public)] = public
    return keys


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifyResult:
    """ok, or the first sequence number shown to be bad and why."""

    ok: bool
    first_bad_seq: int | None = None
    reason: str = ""
    entries: int = 0
    checkpoints: int = 0
    anchored_through: int = 0


def verify_chain(entries: Sequence[AuditEntry]) -> tuple[VerifyResult, list[bytes]]:
    """Recompute every link from seq 1; returns the result and the recomputed head after each seq.

    A chain alone cannot show truncation (dropping the newest rows) or a full rewrite with
    recomputed hashes: that is what signed checkpoints are for.
    """
    heads: list[bytes] = [GENESIS_HASH]

    def fail(seq: int, reason: str) -> tuple[VerifyResult, list[bytes]]:
        return VerifyResult(ok=False, first_bad_seq=seq, reason=reason, entries=len(entries)), heads

    for expected, entry in enumerate(sorted(entries, key=lambda e: e.seq), start=1):
        if entry.seq != expected:
            return fail(expected, f"gap: seq {expected} is missing (the next present is {entry.seq})")
        if entry.prev_hash != heads[-1].hex():
            return fail(entry.seq, f"seq {entry.seq}: prev_hash does not link to seq {expected - 1}")
        if not _TIME_PATTERN.match(entry.time):
            return fail(entry.seq, f"seq {entry.seq}: malformed time")
        try:
            digest = link_hash(heads[-1], entry.payload())
        except (CanonicalJsonError, AuditFormatError) as exc:
            return fail(entry.seq, f"seq {entry.seq}: {exc}")
        if digest.hex() != entry.hash:
            return fail(entry.seq, f"seq {entry.seq}: hash mismatch (the entry changed after it was written)")
        heads.append(digest)
    return VerifyResult(ok=True, entries=len(entries)), heads


def verify(
    entries: Sequence[AuditEntry],
    checkpoints: Sequence[Checkpoint],
    public_keys: Mapping[str, Ed25519PublicKey],
) -> VerifyResult:
    """Chain first, then every checkpoint: trusted key, signature, chaining, coverage, head hash."""
    chained, heads = verify_chain(entries)
    if not chained.ok:
        return chained
    last = len(heads) - 1
    previous: Checkpoint | None = None
    for cp in sorted(checkpoints, key=lambda c: c.index):
        bad = _check_checkpoint(cp, previous, public_keys)
        if bad:
            return VerifyResult(
                ok=False, first_bad_seq=cp.first_seq, reason=bad, entries=last, checkpoints=cp.index - 1
            )
        if cp.last_seq > last:
            return VerifyResult(
                ok=False,
                first_bad_seq=last + 1,
                reason=f"truncated: checkpoint {cp.index} covers seq {cp.last_seq} "
                f"but the log ends at {last}",
                entries=last,
                checkpoints=cp.index - 1,
                anchored_through=previous.last_seq if previous else 0,
            )
        if heads[cp.last_seq].hex() != cp.head_hash:
            return VerifyResult(
                ok=False,
                first_bad_seq=cp.first_seq,
                reason=f"history rewritten: the head at seq {cp.last_seq} differs from signed checkpoint "
                f"{cp.index} (some entry in seq {cp.first_seq}..{cp.last_seq} changed)",
                entries=last,
                checkpoints=cp.index - 1,
                anchored_through=previous.last_seq if previous else 0,
            )
        previous = cp
    return VerifyResult(
        ok=True,
        entries=last,
        checkpoints=len(checkpoints),
        anchored_through=previous.last_seq if previous else 0,
    )


def _check_checkpoint(
    cp: Checkpoint, previous: Checkpoint | None, public_keys: Mapping[str, Ed25519PublicKey]
) -> str:
    """Why a checkpoint is not acceptable after ``previous``, or "" when it is."""
    expected_index = previous.index + 1 if previous else 1
    if cp.index != expected_index:
        return f"checkpoint {expected_index} is missing (found {cp.index})"
    key = public_keys.get(cp.key_id)
    if key is None:
        return f"checkpoint {cp.index} is signed by an unknown key {cp.key_id}"
    try:
        key.verify(
            base64.b64decode(cp.signature, validate=True), CHECKPOINT_DOMAIN + canonical_json(cp.body())
        )
    except (InvalidSignature, ValueError):
        return f"checkpoint {cp.index}: bad signature"
    if cp.prev_signature != (previous.signature if previous else ""):
        return f"checkpoint {cp.index} does not chain to checkpoint {cp.index - 1}"
    if cp.first_seq != (previous.last_seq + 1 if previous else 1) or cp.last_seq < cp.first_seq - 1:
        return f"checkpoint {cp.index}: range {cp.first_seq}..{cp.last_seq} does not follow the previous one"
    return ""

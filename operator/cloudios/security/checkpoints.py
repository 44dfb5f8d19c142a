"""Signed audit checkpoints: Ed25519 statements of the head, chained like CloudTrail digests (pure)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloudios.security.audit import (
    AuditFormatError,
    AuditKeyError,
    format_time,
    is_hash,
    is_time,
    read_secret_file,
)
from cloudios.security.canonical import canonical_json

CHECKPOINT_VERSION = 2
CHECKPOINT_DOMAIN = b"audit-checkpoint-v2"
_SIGNATURE_BYTES = 64


class CheckpointConflictError(RuntimeError):
    """The store's latest checkpoint changed under us (another writer); nothing was published."""


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
    chain_key_id: str
    key_id: str
    time: str
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """Everything but the signature: what is signed."""
        return {
            "version": CHECKPOINT_VERSION,
            "index": self.index,
            "firstSeq": self.first_seq,
            "lastSeq": self.last_seq,
            "headHash": self.head_hash,
            "prevSignature": self.prev_signature,
            "chainKeyId": self.chain_key_id,
            "keyId": self.key_id,
            "time": self.time,
        }

    def to_json(self) -> str:
        return canonical_json({**self.body(), "signature": self.signature}).decode("utf-8") + "\n"

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Parse and check the shape; raises AuditFormatError for anything else (garbage, old versions)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AuditFormatError(f"not a checkpoint (invalid JSON: {exc})") from None
        if not isinstance(data, dict):
            raise AuditFormatError("not a checkpoint (not a JSON object)")
        if data.get("version") != CHECKPOINT_VERSION:
            raise AuditFormatError(f"unknown checkpoint version {data.get('version')!r}")
        ints = {name: data.get(name) for name in ("index", "firstSeq", "lastSeq")}
        texts = {
            name: data.get(name)
            for name in ("headHash", "prevSignature", "chainKeyId", "keyId", "time", "signature")
        }
        for name, value in ints.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise AuditFormatError(f"checkpoint field {name} must be a non-negative integer")
        for name, value in texts.items():
            if not isinstance(value, str):
                raise AuditFormatError(f"checkpoint field {name} must be a string")
        checkpoint = cls(
            index=int(data["index"]),
            first_seq=int(data["firstSeq"]),
            last_seq=int(data["lastSeq"]),
            head_hash=str(data["headHash"]),
            prev_signature=str(data["prevSignature"]),
            chain_key_id=str(data["chainKeyId"]),
            key_id=str(data["keyId"]),
            time=str(data["time"]),
            signature=str(data["signature"]),
        )
        if checkpoint.index < 1 or not is_hash(checkpoint.head_hash) or not is_time(checkpoint.time):
            raise AuditFormatError("checkpoint has a bad index, head hash or time")
        return checkpoint


def sign_checkpoint(
    *,
    previous: Checkpoint | None,
    last_seq: int,
    head_hash: str,
    chain_key_id: str,
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
        chain_key_id=chain_key_id,
        key_id=key_id(signing_key.public_key()),
        time=format_time(now),
    )
    signature = signing_key.sign(CHECKPOINT_DOMAIN + canonical_json(unsigned.body()))
    return replace(unsigned, signature=base64.b64encode(signature).decode("ascii"))


def check_checkpoint(
    cp: Checkpoint,
    previous: Checkpoint | None,
    public_keys: Mapping[str, Ed25519PublicKey],
    chain_key_id: str,
) -> str:
    """Why a checkpoint is not acceptable after ``previous``, or "" when it is."""
    expected_index = previous.index + 1 if previous else 1
    if cp.index != expected_index:
        return f"checkpoint {expected_index} is missing (found {cp.index})"
    key = public_keys.get(cp.key_id)
    if key is None:
        return f"checkpoint {cp.index} is signed by an unknown key {cp.key_id}"
    if not _signed(cp, key):
        return f"checkpoint {cp.index}: bad signature"
    if cp.chain_key_id != chain_key_id:
        return (
            f"checkpoint {cp.index} names chain key {cp.chain_key_id}, not the chain key given "
            f"({chain_key_id})"
        )
    return _follows(cp, previous)


def _follows(cp: Checkpoint, previous: Checkpoint | None) -> str:
    if cp.prev_signature != (previous.signature if previous else ""):
        return f"checkpoint {cp.index} does not chain to checkpoint {cp.index - 1}"
    if cp.first_seq != (previous.last_seq + 1 if previous else 1) or cp.last_seq < cp.first_seq - 1:
        return f"checkpoint {cp.index}: range {cp.first_seq}..{cp.last_seq} does not follow the previous one"
    return ""


def _signed(cp: Checkpoint, key: Ed25519PublicKey) -> bool:
    try:
        signature = base64.b64decode(cp.signature, validate=True)
    except (ValueError, binascii.Error):
        return False
    try:
        key.verify(signature, CHECKPOINT_DOMAIN + canonical_json(cp.body()))
    except InvalidSignature:
        return False
    return len(signature) == _SIGNATURE_BYTES


# --------------------------------------------------------------------------- signing keys


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    """An Ed25519 private key (PKCS#8 PEM) from a file or a mounted Secret, never from the DB."""
    try:
        key = serialization.load_pem_private_key(read_secret_file(path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError(f"{path}: not an Ed25519 private key (PKCS#8 PEM)")
    return key


def load_public_keys(paths: Iterable[str | Path]) -> dict[str, Ed25519PublicKey]:
    """Trusted verifying keys by key id; a file may hold a public or a private key."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise AuditKeyError(f"{path}: cannot read the public key ({exc.strerror or exc})") from None
        if b"PRIVATE KEY" in data:
            public = load_signing_key(path).public_key()
        else:
            try:
                loaded = serialization.load_pem_public_key(data)
            except (ValueError, UnsupportedAlgorithm):
                loaded = None
            if not isinstance(loaded, Ed25519PublicKey):
                raise AuditKeyError(f"{path}: not an Ed25519 public key (PEM)")
            public = loaded
        keys[key_id(public)] = public
    return keys


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

"""The master keyset: versioned AES-256 key-encryption keys, parsed and written without showing a key."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KEY_BYTES = 32
MAX_VERSION = 2**32 - 1  # a version is written into ciphertext as 4 bytes


class KeysetError(ValueError):
    """A master key or keyset that cannot be used; the message names the source, never a key."""


@dataclass(frozen=True, repr=False)
class MasterKeyset:
    """Master key versions; ``primary`` wraps new data keys, versions below ``min_version`` are refused."""

    keys: Mapping[int, bytes] = field(compare=False)
    primary: int
    min_version: int = 1

    def __post_init__(self) -> None:
        if not self.keys:
            raise KeysetError("the keyset has no keys")
        for version, key in self.keys.items():
            if not 1 <= version <= MAX_VERSION:
                raise KeysetError(f"key version {version} is outside 1..{MAX_VERSION}")
            if len(key) != KEY_BYTES:
                raise KeysetError(f"key version {version} has {len(key)} bytes; AES-256 needs {KEY_BYTES}")
        if self.primary not in self.keys:
            raise KeysetError(f"primary {self.primary} is not one of the key versions {self._listed()}")
        if not 1 <= self.min_version <= self.primary:
            raise KeysetError(f"minVersion {self.min_version} must be from 1 to the primary {self.primary}")

    def __repr__(self) -> str:
        listed = f"versions=[{self._listed()}], primary={self.primary}, min_version={self.min_version}"
        return f"MasterKeyset({listed})"

    def _listed(self) -> str:
        return ", ".join(str(v) for v in self.versions) or "none"

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))

    def key(self, version: int) -> bytes | None:
        return self.keys.get(version)

    def with_new_version(self, *, primary: bool) -> MasterKeyset:
        """A copy with one more version (random 32 bytes), made primary or kept for readers only."""
        version = max(self.keys) + 1
        if version > MAX_VERSION:
            raise KeysetError(f"no key version left after {MAX_VERSION}")
        keys = {**self.keys, version: os.urandom(KEY_BYTES)}
        return MasterKeyset(keys, version if primary else self.primary, self.min_version)

    def promoted(self, version: int | None = None) -> MasterKeyset:
        """A copy whose primary is ``version`` (default: the newest)."""
        chosen = max(self.keys) if version is None else version
        if chosen < self.min_version:
            raise KeysetError(f"version {chosen} is below minVersion {self.min_version}")
        return MasterKeyset(self.keys, chosen, self.min_version)

    def with_min_version(self, version: int) -> MasterKeyset:
        return MasterKeyset(self.keys, self.primary, version)

    def without_retired(self) -> MasterKeyset:
        """A copy without the versions below ``min_version`` (their keys are destroyed)."""
        kept = {v: k for v, k in self.keys.items() if v >= self.min_version}
        return MasterKeyset(kept, self.primary, self.min_version)

    def to_json(self) -> str:
        """The keyset file format: {"primary": n, "minVersion": n, "keys": {"<version>": "<base64>"}}."""
        document: dict[str, Any] = {
            "primary": self.primary,
            "minVersion": self.min_version,
            "keys": {str(v): base64.b64encode(self.keys[v]).decode("ascii") for v in self.versions},
        }
        return json.dumps(document, indent=2) + "\n"


def generate() -> MasterKeyset:
    """A new keyset with one random version (1), primary."""
    return MasterKeyset({1: os.urandom(KEY_BYTES)}, 1)


def parse(text: str | bytes, *, source: str) -> MasterKeyset:
    """Base64 of one 32-byte key (version 1) or a JSON keyset; errors name ``source`` and the field."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise KeysetError(f"{source}: not text; {_EXPECTED}") from None
    stripped = text.strip()
    if not stripped:
        raise KeysetError(f"{source}: empty; {_EXPECTED}")
    try:
        if stripped.startswith("{"):
            return _from_json(stripped, source)
        return MasterKeyset({1: _key(stripped, f"{source}")}, 1)
    except KeysetError as exc:
        message = str(exc)
        raise KeysetError(message if message.startswith(source) else f"{source}: {message}") from None


_EXPECTED = (
    'expected base64 of 32 random bytes (`openssl rand -base64 32`) or a JSON keyset {"primary": 1, '
    '"keys": {"1": "<base64>"}} (`cloudios keys init`)'
)


def _key(value: object, where: str) -> bytes:
    if not isinstance(value, str):
        raise KeysetError(f"{where}: a key must be a base64 string; {_EXPECTED}")
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeysetError(f"{where}: not valid base64; {_EXPECTED}") from None
    if len(key) != KEY_BYTES:
        raise KeysetError(f"{where}: decodes to {len(key)} bytes, not {KEY_BYTES}; {_EXPECTED}")
    return key


def _version(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise KeysetError(f"{where}: a key version must be a whole number")
    try:
        version = int(value)
    except ValueError:
        raise KeysetError(f"{where}: a key version must be a whole number") from None
    if not 1 <= version <= MAX_VERSION:
        raise KeysetError(f"{where}: key version {version} is outside 1..{MAX_VERSION}")
    return version


def _from_json(text: str, source: str) -> MasterKeyset:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        # The position only: the message of a JSON error could quote the text around it.
        raise KeysetError(f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(document, dict):
        raise KeysetError(f"{source}: the keyset must be a JSON object")
    unknown = sorted(set(document) - {"primary", "minVersion", "keys"})
    if unknown:
        listed = ", ".join(n if re.fullmatch(r"[A-Za-z_]{1,40}", n) else "(unnamed)" for n in unknown)
        raise KeysetError(f"{source}: unknown field(s) {listed}; expected primary, minVersion, keys")
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, dict) or not raw_keys:
        raise KeysetError(f'{source}: "keys" must map versions to base64 keys, e.g. {{"1": "<base64>"}}')
    keys = {}
    for position, (name, value) in enumerate(raw_keys.items(), start=1):
        # A misplaced key could sit where a version belongs: echo only what looks like a version.
        shown = f'"{name}"' if re.fullmatch(r"\d{1,10}", name) else f"(entry {position})"
        where = f"{source}: keys.{shown}"
        keys[_version(name, where)] = _key(value, where)
    if "primary" not in document:
        raise KeysetError(f'{source}: "primary" is missing (the version that wraps new data keys)')
    primary = _version(document["primary"], f"{source}: primary")
    min_version = _version(document.get("minVersion", min(keys)), f"{source}: minVersion")
    return MasterKeyset(keys, primary, min_version)

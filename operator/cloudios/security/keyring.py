"""Encryption at rest: AES-256-GCM under per-tenant data keys, wrapped by a versioned master keyset.

One ciphertext format serves both levels: ``v1 (1 byte) | key id (4 bytes) | nonce (12) | ct+tag``.
A value's key id is its tenant's data-key version; a wrapped data key's key id is the master-key
version that wraps it. Associated data binds every ciphertext to where it is stored (table, column,
tenant, row) and to its own header, so a copied or altered value fails instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloudios.security.keyset import KEY_BYTES, MAX_VERSION, MasterKeyset

FORMAT_VERSION = 1
NONCE_BYTES = 12
TAG_BYTES = 16
TEXT_PREFIX = "cloudios:v1:"
# Random 96-bit nonces: NIST SP 800-38D caps one key at 2**32 messages. 2**24 keeps the chance of a
# repeated nonce under one key below 2**-49; a data key is cheap, so the next version takes over.
DEFAULT_MAX_ENCRYPTIONS = 2**24
_HEADER = struct.Struct(">BI")
_AAD_DOMAIN = "cloudios.keyring.v1"
_RESERVE_ATTEMPTS = 16


class KeyringError(Exception):
    """A value that cannot be encrypted or decrypted; messages name keys by version, never by content."""


class MalformedCiphertextError(KeyringError, ValueError):
    """Not a Cloudios ciphertext (wrong format version, too short, bad text form)."""


class UnknownKeyError(KeyringError, LookupError):
    """The ciphertext names a key id this keyring does not hold; no other key is tried."""


class RetiredKeyError(KeyringError):
    """The data key is wrapped by a master-key version below the keyset's minVersion."""


class AuthenticationError(KeyringError, InvalidTag):
    """AES-GCM refused the value: altered, moved to another row or tenant, or under another key."""


@dataclass(frozen=True)
class Binding:
    """Where a value is stored; the associated data that ties its ciphertext to that place."""

    table: str
    column: str
    tenant: str
    row: str

    def describe(self) -> str:
        return f"{self.table}.{self.column} of tenant '{self.tenant}', row '{self.row}'"


@dataclass(frozen=True, repr=False)
class WrappedDataKey:
    """A tenant's data key as stored: encrypted under a master-key version, with its use counter."""

    tenant: str
    version: int
    wrapped: bytes
    encryptions: int = 0

    @property
    def master_version(self) -> int:
        return key_id(self.wrapped)

    def __repr__(self) -> str:
        return (
            f"WrappedDataKey(tenant={self.tenant!r}, version={self.version}, "
            f"master_version={self.master_version}, encryptions={self.encryptions})"
        )


class DataKeyStore(Protocol):
    """Where wrapped data keys live (the store's data_keys table); every call is atomic."""

    def current_data_key(self, tenant: str) -> WrappedDataKey | None:
        """The tenant's newest data key."""
        ...

    def data_key(self, tenant: str, version: int) -> WrappedDataKey | None: ...

    def add_data_key(self, key: WrappedDataKey) -> bool:
        """Insert; False when the tenant already has that version (another writer was first)."""
        ...

    def count_encryption(self, tenant: str, version: int) -> int:
        """Add one to the key's counter and return the new count."""
        ...

    def data_keys(self) -> Sequence[WrappedDataKey]:
        """Every tenant's data keys."""
        ...

    def replace_wrapped(self, key: WrappedDataKey, wrapped: bytes) -> bool:
        """Swap the wrapping if it is still ``key.wrapped``; False when someone else changed it."""
        ...


def key_id(ciphertext: bytes) -> int:
    """The key id in a ciphertext's header."""
    return _split(ciphertext)[1]


def to_text(ciphertext: bytes) -> str:
    """The text form for database columns: ``cloudios:v1:`` + base64."""
    return TEXT_PREFIX + base64.b64encode(ciphertext).decode("ascii")


def from_text(text: str) -> bytes:
    if not text.startswith(TEXT_PREFIX):
        raise MalformedCiphertextError(f"not a Cloudios ciphertext (no '{TEXT_PREFIX}' prefix)")
    try:
        return base64.b64decode(text[len(TEXT_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise MalformedCiphertextError("the ciphertext's text form is not valid base64") from None


def canonical(*fields: str) -> bytes:
    """Length-prefixed UTF-8 fields: no two different tuples encode the same."""
    encoded = [f.encode("utf-8") for f in fields]
    return b"".join(len(e).to_bytes(4, "big") + e for e in encoded)


def _split(ciphertext: bytes) -> tuple[bytes, int, bytes, bytes]:
    if len(ciphertext) < _HEADER.size + NONCE_BYTES + TAG_BYTES:
        raise MalformedCiphertextError(f"a ciphertext of {len(ciphertext)} bytes is too short")
    version, kid = _HEADER.unpack_from(ciphertext)
    if version != FORMAT_VERSION:
        raise MalformedCiphertextError(f"ciphertext format {version} is unknown (this build reads v1)")
    header = ciphertext[: _HEADER.size]
    nonce = ciphertext[_HEADER.size : _HEADER.size + NONCE_BYTES]
    return header, kid, nonce, ciphertext[_HEADER.size + NONCE_BYTES :]


def _seal(key: bytes, kid: int, plaintext: bytes, aad: bytes) -> bytes:
    header = _HEADER.pack(FORMAT_VERSION, kid)
    nonce = os.urandom(NONCE_BYTES)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, header + aad)


def _open(key: bytes, ciphertext: bytes, aad: bytes, what: str) -> bytes:
    header, _, nonce, body = _split(ciphertext)
    try:
        return AESGCM(key).decrypt(nonce, body, header + aad)
    except InvalidTag:
        raise AuthenticationError(
            f"{what} failed authentication: it was altered, copied from another row or tenant, "
            "or written under a different key"
        ) from None


def _value_aad(binding: Binding) -> bytes:
    return canonical(_AAD_DOMAIN, binding.table, binding.column, binding.tenant, binding.row)


def _wrap_aad(tenant: str, version: int) -> bytes:
    return canonical(_AAD_DOMAIN, "data_keys", "wrapped", tenant, str(version))


class Keyring:
    """Encrypts values per tenant; decrypts by the key id in the ciphertext, never by trying keys."""

    def __init__(
        self, keyset: MasterKeyset, store: DataKeyStore, *, max_encryptions: int = DEFAULT_MAX_ENCRYPTIONS
    ) -> None:
        if not 1 <= max_encryptions <= 2**32:
            raise ValueError("max_encryptions must be between 1 and 2**32")
        self.keyset = keyset
        self._store = store
        self._max = max_encryptions

    def __repr__(self) -> str:
        return f"Keyring({self.keyset!r}, max_encryptions={self._max})"

    def encrypt(self, plaintext: bytes, binding: Binding) -> bytes:
        """AES-256-GCM under the tenant's current data key (a new one once it reaches the limit)."""
        data_key = self._reserve(binding.tenant)
        return _seal(self._unwrap(data_key), data_key.version, plaintext, _value_aad(binding))

    def decrypt(self, ciphertext: bytes, binding: Binding) -> bytes:
        version = key_id(ciphertext)
        data_key = self._store.data_key(binding.tenant, version)
        if data_key is None:
            raise UnknownKeyError(
                f"{binding.describe()} names data key {version}, which tenant '{binding.tenant}' does "
                "not have: the value was written for another tenant, or its key was deleted"
            )
        return _open(self._unwrap(data_key), ciphertext, _value_aad(binding), binding.describe())

    def rewrap(self) -> int:
        """Wrap every data key under the primary master version; values are not touched.

        Returns how many data keys changed. Safe to repeat and to run beside writers.
        """
        changed = 0
        for data_key in self._store.data_keys():
            if data_key.master_version == self.keyset.primary:
                continue
            plain = self._unwrap(data_key)
            if self._store.replace_wrapped(data_key, self._wrap(data_key.tenant, data_key.version, plain)):
                changed += 1
        return changed

    def _reserve(self, tenant: str) -> WrappedDataKey:
        """A data key with one encryption counted for the caller, so no key exceeds the limit."""
        for _ in range(_RESERVE_ATTEMPTS):
            current = self._store.current_data_key(tenant)
            if current is None or current.encryptions >= self._max:
                version = current.version + 1 if current else 1
                if version > MAX_VERSION:
                    raise KeyringError(f"tenant '{tenant}' has used every data-key version")
                self._store.add_data_key(
                    WrappedDataKey(tenant, version, self._wrap(tenant, version, os.urandom(KEY_BYTES)))
                )
                continue
            if self._store.count_encryption(tenant, current.version) <= self._max:
                return replace(current, encryptions=current.encryptions + 1)
        raise KeyringError(f"could not reserve a data key for tenant '{tenant}': too many concurrent writers")

    def _wrap(self, tenant: str, version: int, key: bytes) -> bytes:
        primary = self.keyset.key(self.keyset.primary)
        if primary is None:  # MasterKeyset guarantees it; kept for the type checker
            raise UnknownKeyError(f"the keyset lacks its primary version {self.keyset.primary}")
        return _seal(primary, self.keyset.primary, key, _wrap_aad(tenant, version))

    def _unwrap(self, data_key: WrappedDataKey) -> bytes:
        master = data_key.master_version
        what = f"data key {data_key.version} of tenant '{data_key.tenant}'"
        if master < self.keyset.min_version:
            raise RetiredKeyError(
                f"{what} is wrapped by master-key version {master}, below minVersion "
                f"{self.keyset.min_version}: rewrap it (`cloudios keys rewrap`) with a keyset that still "
                f"holds version {master}"
            )
        key = self.keyset.key(master)
        if key is None:
            raise UnknownKeyError(
                f"{what} is wrapped by master-key version {master}, which this keyset does not hold "
                f"(versions {', '.join(map(str, self.keyset.versions))}): load the keyset that has it"
            )
        return _open(key, data_key.wrapped, _wrap_aad(data_key.tenant, data_key.version), what)


class MemoryDataKeys:
    """Data keys in process memory: for a keyring whose values live no longer than the process."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, int], WrappedDataKey] = {}
        self._lock = threading.Lock()

    def current_data_key(self, tenant: str) -> WrappedDataKey | None:
        with self._lock:
            versions = [v for t, v in self._keys if t == tenant]
            return self._keys[(tenant, max(versions))] if versions else None

    def data_key(self, tenant: str, version: int) -> WrappedDataKey | None:
        with self._lock:
            return self._keys.get((tenant, version))

    def add_data_key(self, key: WrappedDataKey) -> bool:
        with self._lock:
            if (key.tenant, key.version) in self._keys:
                return False
            self._keys[(key.tenant, key.version)] = key
            return True

    def count_encryption(self, tenant: str, version: int) -> int:
        with self._lock:
            key = self._keys[(tenant, version)]
            self._keys[(tenant, version)] = replace(key, encryptions=key.encryptions + 1)
            return key.encryptions + 1

    def data_keys(self) -> Sequence[WrappedDataKey]:
        with self._lock:
            return list(self._keys.values())

    def replace_wrapped(self, key: WrappedDataKey, wrapped: bytes) -> bool:
        with self._lock:
            stored = self._keys.get((key.tenant, key.version))
            if stored is None or stored.wrapped != key.wrapped:
                return False
            self._keys[(key.tenant, key.version)] = replace(stored, wrapped=wrapped)
            return True

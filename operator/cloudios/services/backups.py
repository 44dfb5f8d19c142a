"""Daily encrypted backups of the store to an S3-compatible bucket, pruned after 90 days, and restore.

An object is ``cloudios-backup-<UTC time>.bin``:

    b"cloudios-backup-v1\\n" | one JSON line {"wrappedKey": base64, "created": time} | keyring ciphertext

The ciphertext is the gzip of the store's dump (store/backup.py), encrypted by ``security.keyring``
under a fresh data key that the master keyset wraps, bound to the object's name. Restore needs the
master keyset (any that still holds the wrapping version); the bucket never sees a plaintext byte.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from cloudios.security.keyring import Binding, Keyring, MemoryDataKeys, WrappedDataKey
from cloudios.security.keyset import MasterKeyset

MAGIC = b"cloudios-backup-v1\n"
BACKUP_TENANT = "_backups"
"""The keyring tenant of backup data keys: no namespace can have that name (not a DNS label)."""
INTERVAL = timedelta(days=1)
RETENTION = timedelta(days=90)
_NAME = re.compile(r"^cloudios-backup-(\d{8}T\d{6}Z)\.bin$")
_TIME = "%Y%m%dT%H%M%SZ"

log = logging.getLogger(__name__)


class BackupError(Exception):
    """A backup object that cannot be read: not ours, damaged, or sealed under another master key."""


class ObjectStore(Protocol):
    """A bucket (providers.base.ObjectStore, made by providers.registry.object_store)."""

    def describe(self) -> str: ...

    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes: ...

    def names(self) -> list[str]: ...

    def delete(self, name: str) -> None: ...


class Dumpable(Protocol):
    """The store (store.sql.SqlRepository)."""

    def dump(self) -> dict[str, Any]: ...

    def restore(self, document: dict[str, Any]) -> dict[str, int]: ...


def object_name(moment: datetime) -> str:
    return f"cloudios-backup-{moment.astimezone(UTC).strftime(_TIME)}.bin"


def taken_at(name: str) -> datetime | None:
    """When a backup object was taken, from its name; None for objects that are not backups."""
    match = _NAME.match(name)
    return datetime.strptime(match[1], _TIME).replace(tzinfo=UTC) if match else None


def _binding(name: str) -> Binding:
    return Binding("backups", "object", BACKUP_TENANT, name)


def seal(document: dict[str, Any], keyset: MasterKeyset, name: str, *, now: datetime) -> bytes:
    keys = MemoryDataKeys()
    ciphertext = Keyring(keyset, keys).encrypt(gzip.compress(json.dumps(document).encode()), _binding(name))
    (data_key,) = keys.data_keys()
    header = {"wrappedKey": base64.b64encode(data_key.wrapped).decode(), "created": now.isoformat()}
    return MAGIC + json.dumps(header).encode() + b"\n" + ciphertext


def unseal(data: bytes, keyset: MasterKeyset, name: str) -> dict[str, Any]:
    if not data.startswith(MAGIC):
        raise BackupError(f"{name} is not a Cloudios backup")
    header_line, _, ciphertext = data[len(MAGIC) :].partition(b"\n")
    try:
        wrapped = base64.b64decode(json.loads(header_line)["wrappedKey"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"{name}: damaged header ({type(exc).__name__})") from None
    keys = MemoryDataKeys()
    keys.add_data_key(WrappedDataKey(BACKUP_TENANT, 1, wrapped))
    try:
        plain = Keyring(keyset, keys).decrypt(ciphertext, _binding(name))
    except Exception as exc:
        raise BackupError(
            f"{name} cannot be decrypted with this master keyset: {type(exc).__name__}"
        ) from exc
    document: dict[str, Any] = json.loads(gzip.decompress(plain))
    return document


@dataclass
class Backups:
    """Back up, prune and restore through one bucket."""

    objects: ObjectStore
    keyset: MasterKeyset
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def backups(self) -> list[tuple[str, datetime]]:
        """(name, taken at), oldest first."""
        found = [(name, taken_at(name)) for name in self.objects.names()]
        return sorted(((n, t) for n, t in found if t is not None), key=lambda item: item[1])

    def create(self, store: Dumpable) -> str:
        now = self.clock()
        name = object_name(now)
        self.objects.put(name, seal(store.dump(), self.keyset, name, now=now))
        return name

    def prune(self) -> list[str]:
        """Delete backups older than 90 days; the newest is kept whatever its age."""
        cutoff = self.clock() - RETENTION
        taken = self.backups()
        gone = [name for name, when in taken[:-1] if when < cutoff]
        for name in gone:
            self.objects.delete(name)
        return gone

    def due(self) -> bool:
        taken = self.backups()
        return not taken or self.clock() - taken[-1][1] >= INTERVAL

    def tick(self, store: Dumpable) -> str | None:
        """One timer pass: a backup when the newest is a day old (or none exists), then pruning."""
        name = self.create(store) if self.due() else None
        pruned = self.prune()
        if name or pruned:
            log.info(
                "backup %s to %s; pruned %d older than 90 days",
                name or "not due",
                self.objects.describe(),
                len(pruned),
            )
        return name

    def restore(self, store: Dumpable, name: str | None = None) -> tuple[str, dict[str, int]]:
        """Restore ``name`` (default: the newest backup) into an empty store."""
        if name is None:
            taken = self.backups()
            if not taken:
                raise BackupError(f"no backups in {self.objects.describe()}")
            name = taken[-1][0]
        return name, store.restore(unseal(self.objects.get(name), self.keyset, name))


async def run_forever(backups: Backups, store: Dumpable, *, interval: float) -> None:
    """Check every ``interval`` seconds (hourly by default) whether a daily backup is due."""
    while True:
        try:
            await asyncio.to_thread(backups.tick, store)
        except Exception:
            log.exception("backup pass failed; the next pass tries again")
        await asyncio.sleep(interval)

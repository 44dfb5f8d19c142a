"""What handlers get to work with: settings, store, Kubernetes access, metrics, a clock and object locks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cloudios import __version__
from cloudios.controller.kube import Kube
from cloudios.controller.settings import ControllerSettings
from cloudios.sinks.metrics import Metrics
from cloudios.store.sql import SqlRepository


def utcnow() -> datetime:
    return datetime.now(UTC)


def open_store(settings: ControllerSettings) -> SqlRepository:
    """The store, migrated (replicas starting together are serialised by the store's migration lock)."""
    if settings.database_url:
        return SqlRepository(settings.database_url)
    return SqlRepository.sqlite(settings.data_dir)


@dataclass
class ObjectLocks:
    """One asyncio lock per object, so status writes of one object never interleave."""

    _locks: dict[tuple[str, str, str], asyncio.Lock] = field(default_factory=dict)

    @contextlib.asynccontextmanager
    async def hold(self, kind: str, namespace: str, name: str) -> AsyncIterator[None]:
        key = (kind, namespace, name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            yield

    def forget(self, kind: str, namespace: str, name: str) -> None:
        lock = self._locks.get((kind, namespace, name))
        if lock is not None and not lock.locked():
            del self._locks[(kind, namespace, name)]


@dataclass
class Services:
    """Built once in main and handed to every handler module; nothing here is global."""

    settings: ControllerSettings
    store: SqlRepository
    kube: Kube
    clock: Callable[[], datetime] = utcnow
    locks: ObjectLocks = field(default_factory=ObjectLocks)
    metrics: Metrics = field(default_factory=lambda: Metrics(version=__version__))
    scan_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    # Checks are CPU-bound (boto3 sessions); a few at a time lets accounts become Ready one after
    # another instead of all of them together at the end.
    probe_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))

    @classmethod
    def build(cls, settings: ControllerSettings) -> Services:
        store = open_store(settings)
        kube = Kube.connect(pool_size=settings.worker_threads, timeout=settings.request_timeout_seconds)
        return cls(
            settings=settings,
            store=store,
            kube=kube,
            scan_slots=asyncio.Semaphore(settings.scan_concurrency),
            probe_slots=asyncio.Semaphore(settings.probe_concurrency),
        )

    def close(self) -> None:
        self.store.close()
        self.kube.close()

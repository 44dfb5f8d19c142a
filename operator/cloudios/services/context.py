"""The services the handlers call, built once by a factory from settings, each with only what it needs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

from cloudios import __version__
from cloudios.providers.base import AgentReports
from cloudios.security.keyset import MasterKeyset
from cloudios.services.audit import AuditTrail
from cloudios.services.notifications import Notifier
from cloudios.services.settings import (
    AgentSettings,
    OperatorSettings,
    PodSettings,
    ProbeSettings,
    ScanSettings,
    StoreSettings,
)
from cloudios.services.verifier import Verifier
from cloudios.sinks.kube import Kube
from cloudios.sinks.metrics import Metrics
from cloudios.sinks.status import StatusWriter
from cloudios.sinks.verifier_http import VerifierClient
from cloudios.sinks.verifier_metrics import VerifierMetrics
from cloudios.sinks.webhooks import WebhookSender
from cloudios.store.repository import Repository
from cloudios.store.sql import SqlRepository

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def open_store(
    settings: StoreSettings, keyset: MasterKeyset | None = None, *, migrate: bool = True
) -> SqlRepository:
    """The store, migrated (replicas starting together are serialised by the migration lock) and, on
    PostgreSQL, checked: the app role cannot cross tenants. With the master ``keyset`` it reads and
    writes encrypted secrets. ``migrate=False`` (scan Jobs) requires the newest schema instead."""
    if settings.database_url:
        return SqlRepository(
            settings.database_url,
            password=settings.password(),
            admin_url=settings.database_admin_url if migrate else None,
            admin_password=settings.admin_password() if migrate else None,
            migrate=migrate,
            keyset=keyset,
        )
    return SqlRepository.sqlite(settings.data_dir, keyset=keyset)


def agent_reports_of(store: object) -> AgentReports | None:
    """The store as the ``AgentReports`` port the Kubernetes provider reads, or None.

    The seam while the store's implementation of the port lands (ingest issue): a store without
    ``cluster_state`` and ``container_usage`` gives None, and a kubernetes CloudAccount then fails
    its health check and scans with ``AgentReportsUnavailable`` instead of an AttributeError.
    """
    if callable(getattr(store, "cluster_state", None)) and callable(getattr(store, "container_usage", None)):
        return cast("AgentReports", store)
    return None


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
class _Collaborators:
    """What every service reads and writes through: the API, the store, metrics, status, locks."""

    kube: Kube
    store: Repository
    metrics: Metrics
    status: StatusWriter
    locks: ObjectLocks


@dataclass
class AccountChecks(_Collaborators):
    """CloudAccount health checks: the store's account and health rows, probes, status, metrics."""

    settings: ProbeSettings
    agent_reports: AgentReports | None = None
    """The store's AgentReports port: has a kubernetes account's agent reported?"""
    clock: Clock = utcnow
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    agents: AgentSettings = field(default_factory=AgentSettings)
    """Kubernetes accounts: their agent tokens and reporting window."""
    notifier: Notifier | None = None
    """Webhooks: account.credentials_invalid to the policies that select the account."""


@dataclass
class PolicyRuns(_Collaborators):
    """Scheduled ScanPolicy runs: scans (in process or as Jobs), Recommendations, status, metrics."""

    settings: ScanSettings
    probe_timeout_seconds: float
    pod: PodSettings
    job_environment: Mapping[str, str] = field(default_factory=dict)
    """What scan Jobs inherit from the operator (store, logging, the providers' SDK settings)."""
    agent_reports: AgentReports | None = None
    """The store's AgentReports port: what kubernetes accounts are scanned from."""
    clock: Clock = utcnow
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(4))
    notifier: Notifier | None = None
    """Webhooks (spec.notifications): destinations, the outbox and its delivery."""
    verifier: Verifier | None = None
    """The AI verifier (spec.verifier): asked after each run publishes."""
    audit: AuditTrail | None = None
    """Where the operator's own Recommendation transitions are audited (set once the trail is open)."""


@dataclass
class Services:
    """What the factory builds once in main: one service per area plus what they share to close."""

    accounts: AccountChecks
    policies: PolicyRuns
    kube: Kube
    store: SqlRepository
    metrics: Metrics
    locks: ObjectLocks

    notifier: Notifier | None = None
    verifier: Verifier | None = None

    def close(self) -> None:
        if self.notifier is not None:
            self.notifier.sender.close()
        if self.verifier is not None:
            self.verifier.client.close()
        self.store.close()
        self.kube.close()


def build(
    settings: OperatorSettings,
    *,
    kube: Kube | None = None,
    store: SqlRepository | None = None,
    clock: Clock = utcnow,
    job_environment: Mapping[str, str] | None = None,
) -> Services:
    """Every service from settings; tests pass their own Kube, store and clock."""
    store = store or open_store(settings.store, settings.keyring.keyset)
    kube = kube or Kube.connect(pool_size=settings.worker_threads, timeout=settings.request_timeout_seconds)
    metrics = Metrics(version=__version__)
    metrics.ops.agent_window.set(settings.agent.reporting_window_seconds)
    locks = ObjectLocks()
    reports = agent_reports_of(store)
    notifier = Notifier(
        store=store,
        sender=WebhookSender(
            ca_file=settings.notify.ca_file, timeout_seconds=settings.notify.timeout_seconds
        ),
        settings=settings.notify,
        metrics=metrics,
        clock=clock,
    )
    verifier = Verifier(
        client=VerifierClient(
            ca_file=settings.verifier.ca_file,
            max_request_bytes=settings.verifier.max_request_bytes,
            max_response_bytes=settings.verifier.max_response_bytes,
        ),
        store=store,
        settings=settings.verifier,
        clock=clock,
        metrics=VerifierMetrics(metrics.registry),
    )
    shared = {
        "kube": kube,
        "store": store,
        "metrics": metrics,
        "status": StatusWriter(kube, clock),
        "locks": locks,
    }
    accounts = AccountChecks(
        **shared,  # type: ignore[arg-type]
        settings=settings.probe,
        agent_reports=reports,
        clock=clock,
        slots=asyncio.Semaphore(settings.probe.concurrency),
        agents=settings.agent,
        notifier=notifier,
    )
    offset = timedelta(seconds=settings.scan.clock_offset_seconds)
    policies = PolicyRuns(
        **shared,  # type: ignore[arg-type]
        settings=settings.scan,
        probe_timeout_seconds=settings.probe.timeout_seconds,
        pod=settings.pod,
        job_environment=dict(job_environment or {}),
        agent_reports=reports,
        clock=(lambda: clock() + offset) if offset else clock,
        slots=asyncio.Semaphore(settings.scan.concurrency),
        notifier=notifier,
        verifier=verifier,
    )
    return Services(
        accounts=accounts,
        policies=policies,
        kube=kube,
        store=store,
        metrics=metrics,
        locks=locks,
        notifier=notifier,
        verifier=verifier,
    )

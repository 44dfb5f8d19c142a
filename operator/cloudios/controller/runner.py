"""Operator start-up: logging with redaction, kopf settings, the handler registry, then run."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import kopf

from cloudios.controller import (
    accounts,
    decisions,
    log_noise,
    peering,
    policies,
    policy_admission,
    recommendations,
)
from cloudios.ingest import data_rights as ingest
from cloudios.ingest import server as ingest_server
from cloudios.ingest.reports import ReportsApi
from cloudios.providers import registry as providers
from cloudios.security import tls
from cloudios.security.logs import quiet_wire_loggers
from cloudios.security.redaction import RedactingFilter, install_log_redaction
from cloudios.services import audit, backups, context, data_rights, retention
from cloudios.services.audit import AuditTrail
from cloudios.services.context import Services
from cloudios.services.settings import OperatorSettings, SettingsError
from cloudios.sinks.endpoint import Authorizer, Endpoint, Heartbeat, serve

PREFIX = "cloudios.io"
FINALIZER = "cloudios.io/finalizer"
HEARTBEAT_SECONDS = 5.0
EXIT_TIMEOUT_SECONDS = 30  # scans in worker threads cannot be cancelled; do not wait for them forever
NOISY_LOGGERS = ("aiohttp.access", "werkzeug")  # besides the SDKs' wire loggers (security.logs)

log = logging.getLogger(__name__)


def configure_logging(settings: OperatorSettings) -> None:
    """JSON (or plain) lines on stderr; every handler and kopf's event poster redact secrets."""
    kopf.configure(
        verbose=settings.log.level == "DEBUG",
        log_format=kopf.LogFormat.JSON if settings.log.format == "json" else kopf.LogFormat.FULL,
        log_prefix=settings.log.format != "json",
        log_refkey="object",
    )
    logging.getLogger().setLevel(settings.log.level)
    install_log_redaction()
    # kopf.objects records become Kubernetes Events through kopf's own handler on that logger.
    objects = logging.getLogger("kopf.objects")
    if not any(isinstance(f, RedactingFilter) for f in objects.filters):
        objects.addFilter(RedactingFilter())
    install_log_redaction(objects)
    # Every watch event, and every write through the schedule and status webhooks, succeeds routinely.
    routine = [recommendations.EVENT_HANDLER, policy_admission.VALIDATE_ID, decisions.STATUS_ID]
    log_noise.install(objects, routine, debug=settings.log.level == "DEBUG")
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    quiet_wire_loggers()


def operator_identity(settings: OperatorSettings, services: Services) -> str:
    """The username our API requests carry: the pod's ServiceAccount, else a SelfSubjectReview."""
    if settings.pod.namespace and settings.pod.service_account:
        return decisions.service_account_username(settings.pod.namespace, settings.pod.service_account)
    user = services.kube.whoami()
    if user is None:
        raise RuntimeError("the API server did not say who the operator is (SelfSubjectReview)")
    return user


@functools.cache
def serving_files(settings: OperatorSettings) -> tuple[Path, Path, Path]:
    """(cert, key, CA) of the webhook listener: the mounted certificate, or one generated once per
    process for local runs and tests."""
    files = settings.webhook.files()
    if files is not None:
        return files
    hosts = list(dict.fromkeys([settings.webhook.host or "127.0.0.1", "localhost", "127.0.0.1"]))
    generated = tls.generate_certificate(tempfile.mkdtemp(prefix="cloudios-tls-"), hosts)
    return generated.cert_file, generated.key_file, generated.ca_file


def webhook_server(settings: OperatorSettings) -> kopf.WebhookServer:
    """HTTPS (TLS 1.3) with the mounted certificate, or a generated one for local runs and tests."""
    cert, key, ca = serving_files(settings)
    return decisions.webhook_server(
        certfile=cert,
        pkeyfile=key,
        cafile=ca,
        addr=settings.webhook.addr,
        port=settings.webhook.port,
        host=settings.webhook.host,
    )


def operator_settings(settings: OperatorSettings, *, peered: bool) -> kopf.OperatorSettings:
    config = kopf.OperatorSettings()
    config.persistence.finalizer = FINALIZER
    config.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=PREFIX)
    config.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=PREFIX, key="last-handled-configuration"
    )
    # Only warnings and errors of handler logs become Events; our own Events are posted explicitly.
    config.posting.level = logging.WARNING
    config.posting.reporting_component = "cloudios-operator"
    config.posting.reporting_instance = settings.pod.pod_name or socket.gethostname()
    config.watching.server_timeout = settings.watch.server_timeout_seconds
    config.watching.client_timeout = settings.watch.client_timeout_seconds
    config.watching.reconnect_backoff = settings.watch.reconnect_backoff_seconds
    config.networking.request_timeout = settings.request_timeout_seconds
    config.networking.connect_timeout = min(10.0, settings.request_timeout_seconds)
    config.process.ultimate_exiting_timeout = EXIT_TIMEOUT_SECONDS
    config.peering.priority = settings.peering.priority
    config.peering.lifetime = settings.peering.lifetime_seconds
    if peered and settings.peering.name:
        config.peering.name = settings.peering.name
        # Mandatory: start paused until the peers are known, so two replicas never both act.
        config.peering.mandatory = True
    else:
        config.peering.standalone = True
    return config


def build_registry(
    settings: OperatorSettings,
    services: Services,
    *,
    identity: str | None = None,
    trail: AuditTrail | None = None,
) -> kopf.OperatorRegistry:
    """Every handler, bound explicitly to one registry (no registration by import).

    ``identity`` is the operator's own username, which the decision webhooks let publish; ``trail``
    is the audit log they record decisions in.
    """
    registry = kopf.OperatorRegistry()

    @kopf.on.login(id="kubernetes-client", registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_via_client(**kwargs)

    accounts.register(registry, services)
    policies.register(registry, services)
    recommendations.register(registry, services)
    if settings.webhook.enabled:
        assert identity is not None, "the decision webhooks need the operator's identity"
        assert trail is not None, "the decision webhooks need the audit trail"
        decisions.register(
            registry,
            store_factory=lambda: trail,
            operator_identities=frozenset({identity}),
            metrics=services.metrics.ops,
        )
        policy_admission.register(
            registry,
            allows_private=settings.notify.allows_private,
            verifier_allows_private=settings.verifier.allows_private,
            metrics=services.metrics.ops,
        )
    return registry


async def _serve(
    settings: OperatorSettings,
    services: Services,
    config: kopf.OperatorSettings,
    registry: kopf.OperatorRegistry,
    *,
    heartbeat: Heartbeat,
    peer: str,
    trail: AuditTrail | None = None,
    backup: backups.Backups | None = None,
) -> None:
    loop = asyncio.get_running_loop()
    # asyncio.to_thread uses the default executor: size it for health checks, scans and API calls.
    loop.set_default_executor(ThreadPoolExecutor(settings.worker_threads, thread_name_prefix="cloudios"))
    beating = asyncio.create_task(_beat(heartbeat), name="cloudios heartbeat")
    purger = asyncio.create_task(
        retention.run_forever(
            services.store,
            clock=services.accounts.clock,
            retention_days=settings.retention.days,
            usage_days=settings.retention.usage_days,
            interval=settings.retention.interval_seconds,
        ),
        name="cloudios retention",
    )
    background = [purger]
    if backup is not None:
        background.append(
            asyncio.create_task(
                backups.run_forever(backup, services.store, interval=settings.backup.check_interval_seconds),
                name="cloudios backups",
            )
        )
    if trail is not None:
        background.append(
            asyncio.create_task(
                audit.run_forever(
                    trail, interval=settings.audit.checkpoint_interval_seconds, metrics=services.metrics.ops
                ),
                name="cloudios audit checkpoints",
            )
        )
    try:
        await kopf.operator(
            registry=registry,
            settings=config,
            clusterwide=settings.clusterwide,
            namespaces=list(settings.namespaces),
            identity=cast("Any", peer),  # kopf's Identity: a NewType of str it does not export
        )
    finally:
        for task in (*background, beating):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _beat(heartbeat: Heartbeat) -> None:
    """Prove the event loop runs: /healthz fails when these beats stop (a wedged loop, a dead thread pool)."""
    while True:
        heartbeat.beat()
        await asyncio.sleep(HEARTBEAT_SECONDS)


def serve_endpoint(settings: OperatorSettings, services: Services, heartbeat: Heartbeat) -> Endpoint | None:
    """Start the HTTPS endpoint: /metrics for authorized scrapers, /healthz for the kubelet.

    Every replica serves one (standbys export no scan series). A port that cannot be bound is
    logged and the operator runs on: scans matter more than their monitoring.
    """
    if not settings.metrics.port:
        log.info("metrics and health endpoint disabled (CLOUDIOS_METRICS_PORT=0)")
        return None
    cert, key, _ca = serving_files(settings)
    try:
        endpoint = serve(
            addr=settings.metrics.addr,
            port=settings.metrics.port,
            cert_file=settings.metrics.cert_file or cert,
            key_file=settings.metrics.key_file or key,
            exposition=services.metrics.exposition,
            authorize=Authorizer(services.kube),
            heartbeat=heartbeat,
        )
    except OSError as exc:
        log.error(  # noqa: TRY400 - the reason is the whole story; no traceback needed
            "cannot serve metrics on %s:%d (CLOUDIOS_METRICS_PORT): %s; running without metrics",
            settings.metrics.addr,
            settings.metrics.port,
            exc.strerror or exc,
        )
        return None
    log.info("serving https://%s:%d/metrics (TokenReview + SubjectAccessReview) and /healthz",
             settings.metrics.addr, endpoint.port)  # fmt: skip
    return endpoint


def backup_service(settings: OperatorSettings) -> backups.Backups:
    """Backups to CLOUDIOS_BACKUP_BUCKET, sealed with the master keyset (required for them)."""
    keyset = settings.keyring.keyset
    if keyset is None or settings.backup.bucket is None:
        raise SettingsError(
            "CLOUDIOS_BACKUP_BUCKET needs the master key (CLOUDIOS_MASTER_KEY_FILE): backups are encrypted"
        )
    bucket = providers.object_store(
        settings.backup.bucket,
        prefix=settings.backup.prefix,
        endpoint_url=settings.backup.endpoint_url,
        region=settings.backup.region,
    )
    return backups.Backups(bucket, keyset)


def serve_data_rights(
    settings: OperatorSettings, services: Services, trail: AuditTrail | None
) -> Endpoint | None:
    """Start the ingest listener (CLOUDIOS_INGEST_PORT): the data-rights API, export and erase, each
    audited through ``trail``; and agent reports unless CLOUDIOS_INGEST_REPORTS=false."""
    if not settings.ingest.port:
        return None
    if trail is None:
        raise SettingsError(
            "CLOUDIOS_INGEST_PORT needs the audit log (every export and erasure is audited): set "
            "CLOUDIOS_AUDIT_CHAIN_KEY_FILE and CLOUDIOS_AUDIT_SIGNING_KEY_FILE"
        )
    cert, key, _ca = serving_files(settings)
    api = ingest.DataRightsApi(services.kube, data_rights.in_cluster(services.store, trail, services.kube))
    reports = (
        ReportsApi(services.store, settings.ingest, observe=services.metrics.ops.report_received)
        if settings.ingest.reports
        else None
    )
    endpoint = ingest_server.serve(
        addr=settings.ingest.addr,
        port=settings.ingest.port,
        cert_file=settings.ingest.cert_file or cert,
        key_file=settings.ingest.key_file or key,
        rights=api,
        reports=reports,
    )
    log.info("serving the data-rights API%s on https://%s:%d", " and agent reports" if reports else "",
             settings.ingest.addr, endpoint.port)  # fmt: skip
    return endpoint


def run(settings: OperatorSettings, job_environment: Mapping[str, str]) -> None:
    """Configure, connect, and run until SIGTERM/SIGINT; scan Jobs get ``job_environment``
    (``scan_jobs.inherited_environment``, checked before start-up)."""
    configure_logging(settings)
    services = context.build(settings, job_environment=job_environment)
    endpoint: Endpoint | None = None
    rights: Endpoint | None = None
    heartbeat = Heartbeat()
    trail: AuditTrail | None = None
    try:
        # Before anything starts: missing audit keys stop the operator with the fix (SettingsError).
        if settings.webhook.enabled or settings.audit.chain_key_file:
            trail = audit.open_trail(settings, services.kube)
            services.policies.audit = trail  # the closed loop audits the transitions it writes
        backup = backup_service(settings) if settings.backup.bucket else None
        endpoint = serve_endpoint(settings, services, heartbeat)
        rights = serve_data_rights(settings, services, trail)
        peered = peering.available(services.kube, settings)
        peer = peering.identity(settings)
        if peered:
            peering.ensure_objects(services.kube, settings)
            # A predecessor killed on this host would otherwise pause us for its whole lifetime.
            peering.clear_stale(services.kube, settings, peer)
        else:
            log.warning(
                "kopf peering %s: running standalone; never run two replicas like this",
                "is disabled" if not settings.peering.name else "CRDs (kopf.dev) are not installed",
            )
        config = operator_settings(settings, peered=peered)
        identity = None
        if settings.webhook.enabled:
            identity = operator_identity(settings, services)
            config.admission.server = webhook_server(settings)
            config.admission.managed = settings.webhook.managed
        registry = build_registry(settings, services, identity=identity, trail=trail)
        log.info(
            "starting: %s, peering priority %d, health checks every %ss, scheduler every %ss",
            "cluster-wide" if settings.clusterwide else f"namespaces {', '.join(settings.namespaces)}",
            settings.peering.priority,
            settings.probe.interval_seconds,
            settings.scan.scheduler_interval_seconds,
        )
        asyncio.run(
            _serve(
                settings,
                services,
                config,
                registry,
                heartbeat=heartbeat,
                peer=peer,
                trail=trail,
                backup=backup,
            )
        )
    finally:
        for listener in (endpoint, rights):
            if listener is not None:
                listener.stop()
        if trail is not None:
            trail.close()
        services.close()

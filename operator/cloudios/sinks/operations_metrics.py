"""The operator's own health in Prometheus: handlers, admission, scan failures, agents, audit, schedules.

Every label here is bounded: handler and webhook names are the operator's own constants, reasons are
mapped onto fixed sets (anything else is ``Other``), and namespaces, policies and accounts are one
series per object the cluster holds. Resource ids, user names and tokens never become labels.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OTHER = "Other"
# Handlers finish in milliseconds (status writes) to minutes (a policy tick that scans in-process).
HANDLER_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# The API server gives an admission webhook 10 s by default (webhook.timeoutSeconds).
ADMISSION_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")

SCAN_FAILURE_REASONS = frozenset(
    {
        # The scan itself (services.account_scans, services.scan_jobs)
        "ScanTimedOut", "ScanError", "InvalidSpec", "InvalidModule", "NoShards", "ScanJobFailed",
        "BackoffLimitExceeded", "DeadlineExceeded",
        # Providers (ProviderError reasons)
        "Throttled", "PermissionDenied", "EndpointUnreachable", "MetricsIncomplete", "RegionNotEnabled",
        "AwsApiError", "AwsClientError", "GcpApiError", "GcpUnreachable", "AzureApiError",
        "ProviderSdkMissing", "ProviderNotImplemented", "AgentStale", "AgentNotReporting",
        "AgentReportsUnavailable", "InvalidAccount",
        # Credentials found bad only when the scan starts
        "InvalidCredentials", "CredentialsInvalid", "CredentialsMissing", "AssumeRoleDenied",
        "AccountMismatch", "ProjectMismatch", "SecretNotFound", "SecretForbidden", "SecretMalformed",
        "SecretKeyMissing", "NoBaseCredentials", "NoAzureIdentity", "TenantNotFound", "ProjectNotFound",
        "SubscriptionNotFound", "SubscriptionNotAccessible",
    }
)  # fmt: skip
"""Reasons a scan fails with; any other reason is counted as ``Other``."""

CREDENTIAL_REASONS = frozenset(
    {
        "InvalidCredentials", "CredentialsInvalid", "CredentialsMissing", "AssumeRoleDenied",
        "AccountMismatch", "ProjectMismatch", "SecretNotFound", "SecretForbidden", "SecretMalformed",
        "SecretKeyMissing", "NoBaseCredentials", "NoAzureIdentity", "TenantNotFound",
        "SubscriptionNotAccessible", "PermissionDenied",
    }
)  # fmt: skip
"""Health-check reasons that mean the account's credentials (or what they may do) are wrong, as
opposed to an unreachable endpoint or a timeout, where the credentials' validity is unknown."""

ADMISSION_RESULTS = ("allowed", "denied", "error")
HANDLER_ERRORS = ("transient", "unexpected")
REJECT_REASONS = {
    400: "malformed",
    401: "unauthenticated",
    403: "forbidden",
    408: "timeout",
    411: "malformed",
    413: "too_large",
    415: "malformed",
    422: "malformed",
    429: "rate_limited",
    503: "unavailable",
}
"""Refused agent reports by HTTP status -> reason label (anything else: ``other``)."""


def bounded(reason: str, allowed: frozenset[str]) -> str:
    return reason if reason in allowed else OTHER


class OperationsMetrics:
    """Recorders for the operator's health, on the registry of ``sinks.metrics.Metrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.handler_duration = Histogram(
            "cloudios_reconcile_duration_seconds",
            "Duration of one kopf handler run (reconcile, timer tick), by resource kind and handler.",
            ["kind", "handler"],
            buckets=HANDLER_BUCKETS,
            registry=r,
        )
        self.handler_errors = Counter(
            "cloudios_reconcile_errors",
            "Handler runs that failed: transient (API server or store unavailable; retried) or "
            "unexpected (a bug or bad data; logged with its traceback).",
            ["kind", "handler", "error"],
            registry=r,
        )
        self.admission_duration = Histogram(
            "cloudios_admission_duration_seconds",
            "Time the operator's admission webhooks take to answer the API server, by webhook.",
            ["webhook"],
            buckets=ADMISSION_BUCKETS,
            registry=r,
        )
        self.admission = Counter(
            "cloudios_admission_requests",
            "Admission reviews answered, by webhook and result (allowed|denied|error; error: the "
            "webhook could not decide, e.g. the audit log or SubjectAccessReview failed).",
            ["webhook", "result"],
            registry=r,
        )
        self.scan_failures = Counter(
            "cloudios_scan_failures",
            "Failed account scans by provider and reason (a fixed set of CamelCase reasons; others: Other).",
            ["namespace", "provider", "reason"],
            registry=r,
        )
        self.next_run = Gauge(
            "cloudios_scan_next_run_timestamp_seconds",
            "Unix time of the ScanPolicy's next scheduled run (its cron schedule, UTC).",
            ["namespace", "policy"],
            registry=r,
        )
        self.schedule_interval = Gauge(
            "cloudios_scan_schedule_interval_seconds",
            "Seconds between the ScanPolicy's next two scheduled runs (the schedule's period).",
            ["namespace", "policy"],
            registry=r,
        )
        self.credentials_valid = Gauge(
            "cloudios_account_credentials_valid",
            "1 when the CloudAccount's last health check accepted its credentials, 0 when it failed for "
            "a credentials reason (the reason label; none when valid). Cloud accounts only.",
            ["namespace", "account", "reason"],
            registry=r,
        )
        self.agent_last_report = Gauge(
            "cloudios_agent_last_report_timestamp_seconds",
            "Unix time of the last report received from the agent of a kubernetes CloudAccount.",
            ["namespace", "account"],
            registry=r,
        )
        self.agent_window = Gauge(
            "cloudios_agent_reporting_window_seconds",
            "An agent whose last report is older than this is NotReporting (CLOUDIOS_AGENT_REPORTING_"
            "WINDOW_SECONDS); the silence alert counts in these windows.",
            registry=r,
        )
        self.agent_reports = Counter(
            "cloudios_agent_reports_received",
            "Agent reports accepted and stored by ingest (duplicates included: the agent retried).",
            registry=r,
        )
        self.agent_rejected = Counter(
            "cloudios_agent_reports_rejected",
            "Agent reports refused by ingest, by reason (unauthenticated|forbidden|rate_limited|malformed|"
            "too_large|timeout|unavailable|other).",
            ["reason"],
            registry=r,
        )
        self.checkpoint_last = Gauge(
            "cloudios_audit_last_checkpoint_timestamp_seconds",
            "Unix time of the newest signed audit checkpoint this operator published or found current.",
            registry=r,
        )
        self.checkpoint_max_age = Gauge(
            "cloudios_audit_checkpoint_max_age_seconds",
            "While checkpointing works the newest checkpoint is at most this old: the hourly heartbeat "
            "of a quiet log plus one pass interval (CLOUDIOS_AUDIT_CHECKPOINT_INTERVAL_SECONDS).",
            registry=r,
        )
        self.checkpoint_failures = Counter(
            "cloudios_audit_checkpoint_failures",
            "Checkpoint passes that failed (signing, the ConfigMap or directory, or a store/database "
            "mismatch).",
            registry=r,
        )
        for reason in sorted({*REJECT_REASONS.values(), "other"}):
            self.agent_rejected.labels(reason)

    # -- handlers and admission ----------------------------------------------------------------

    def observe_handler(self, kind: str, handler: str, seconds: float, *, error: str | None) -> None:
        """One handler run; ``error`` is None, 'transient' or 'unexpected'."""
        kind, handler = _name(kind), _name(handler)
        self.handler_duration.labels(kind, handler).observe(max(0.0, seconds))
        for name in HANDLER_ERRORS:  # both series exist from the first run, so rate() works at once
            self.handler_errors.labels(kind, handler, name)
        if error is not None:
            self.handler_errors.labels(
                kind, handler, error if error in HANDLER_ERRORS else "unexpected"
            ).inc()

    def observe_admission(self, webhook: str, seconds: float, *, result: str) -> None:
        webhook = _name(webhook)
        self.admission_duration.labels(webhook).observe(max(0.0, seconds))
        for name in ADMISSION_RESULTS:
            self.admission.labels(webhook, name)
        self.admission.labels(webhook, result if result in ADMISSION_RESULTS else "error").inc()

    # -- scans and schedules -------------------------------------------------------------------

    def scan_failed(self, namespace: str, provider: str, reason: str) -> None:
        self.scan_failures.labels(namespace, _name(provider), bounded(reason, SCAN_FAILURE_REASONS)).inc()

    def set_schedule(self, namespace: str, policy: str, *, next_run: datetime, following: datetime) -> None:
        """The policy's next run and the one after it (their difference is the schedule's period)."""
        self.next_run.labels(namespace, policy).set(next_run.timestamp())
        self.schedule_interval.labels(namespace, policy).set(max(0.0, (following - next_run).total_seconds()))

    def forget_policy(self, namespace: str, policy: str) -> None:
        _remove(self.next_run, namespace, policy)
        _remove(self.schedule_interval, namespace, policy)

    # -- accounts and agents -------------------------------------------------------------------

    def set_credentials(self, namespace: str, account: str, *, ok: bool, reason: str) -> None:
        """A cloud account's health check: valid, invalid for a credentials reason, or unknown
        (unreachable, timed out: the last known value stays)."""
        if not ok and reason not in CREDENTIAL_REASONS:
            return
        self._clear_credentials(namespace, account)
        self.credentials_valid.labels(namespace, account, "" if ok else reason).set(1 if ok else 0)

    def _clear_credentials(self, namespace: str, account: str) -> None:
        for labels in list(children(self.credentials_valid)):
            if labels[:2] == (namespace, account):
                _remove(self.credentials_valid, *labels)

    def set_agent_report(self, namespace: str, account: str, last_report: datetime) -> None:
        self.agent_last_report.labels(namespace, account).set(last_report.timestamp())

    def forget_account(self, namespace: str, account: str) -> None:
        self._clear_credentials(namespace, account)
        _remove(self.agent_last_report, namespace, account)

    def report_received(self, status: int) -> None:
        """One POST /v1/reports answered with ``status``."""
        if status == 200:  # noqa: PLR2004 - HTTP OK
            self.agent_reports.inc()
        else:
            self.agent_rejected.labels(REJECT_REASONS.get(status, "other")).inc()

    # -- audit ---------------------------------------------------------------------------------

    def checkpointed(self, signed_at: datetime) -> None:
        self.checkpoint_last.set(signed_at.timestamp())

    def checkpoint_failed(self) -> None:
        self.checkpoint_failures.inc()


def _name(value: str) -> str:
    return value if _NAME.match(value) else OTHER


def children(metric: Gauge) -> list[tuple[str, ...]]:
    """The label values of every child of ``metric`` (prometheus_client keeps them in _metrics)."""
    with metric._lock:  # noqa: SLF001 - no public API lists a metric's children
        return [tuple(labels) for labels in metric._metrics]  # noqa: SLF001


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):
        metric.remove(*labels)

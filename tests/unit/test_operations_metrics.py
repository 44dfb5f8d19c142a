"""The operator's health metrics: handlers, admission, scan failures, schedules, accounts, agents, audit,
hourly and per-account savings; the whole exposition passes `promtool check metrics`."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import kopf
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from cloudios.controller import handling
from cloudios.domain import SavingsSummary
from cloudios.security.audit import AuditEvent, ChainKey
from cloudios.services import audit
from cloudios.services.audit import AuditTrail
from cloudios.sinks.kube import ApiError
from cloudios.sinks.metrics import Metrics
from cloudios.store.audit import SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory
from tests.support.prometheus import tools

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(version="1.2.3", process_metrics=False)


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    text = metrics.exposition().decode()
    found = [
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
    return found[0] if found else None


async def _notices() -> list[object]:
    return []


async def _transient() -> list[object]:
    raise ApiError(status=503, reason="unavailable")


async def _broken() -> list[object]:
    raise ZeroDivisionError


def test_handler_runs_and_errors_by_kind_and_handler(metrics: Metrics) -> None:
    ops = metrics.ops
    asyncio.run(handling.tick(_notices(), what="ScanPolicy scheduler", metrics=ops))  # type: ignore[arg-type]
    asyncio.run(handling.tick(_transient(), what="ScanPolicy scheduler", metrics=ops))  # type: ignore[arg-type]
    asyncio.run(handling.tick(_broken(), what="CloudAccount health check", metrics=ops))  # type: ignore[arg-type]
    with pytest.raises(kopf.TemporaryError):
        asyncio.run(handling.converge(_transient(), what="CloudAccount reconcile", metrics=ops))  # type: ignore[arg-type]
    count = "cloudios_reconcile_duration_seconds_count"
    assert value(metrics, count, kind="ScanPolicy", handler="scheduler") == 2
    assert value(metrics, count, kind="CloudAccount", handler="health-check") == 1
    errors = "cloudios_reconcile_errors_total"
    assert value(metrics, errors, kind="ScanPolicy", handler="scheduler", error="transient") == 1
    assert value(metrics, errors, kind="ScanPolicy", handler="scheduler", error="unexpected") == 0
    assert value(metrics, errors, kind="CloudAccount", handler="health-check", error="unexpected") == 1
    assert value(metrics, errors, kind="CloudAccount", handler="reconcile", error="transient") == 1


def test_admission_answers_allowed_denied_and_error(metrics: Metrics) -> None:
    @handling.admission("validate-x", metrics.ops)
    def webhook(*, verdict: str) -> None:
        if verdict == "deny":
            raise kopf.AdmissionError("no", code=422)
        if verdict == "fail":
            raise kopf.AdmissionError("audit log down", code=500)

    webhook(verdict="allow")
    for verdict in ("deny", "fail"):
        with pytest.raises(kopf.AdmissionError):
            webhook(verdict=verdict)
    for result in ("allowed", "denied", "error"):
        assert value(metrics, "cloudios_admission_requests_total", webhook="validate-x", result=result) == 1
    assert value(metrics, "cloudios_admission_duration_seconds_count", webhook="validate-x") == 3


def test_scan_failure_reasons_are_a_bounded_set(metrics: Metrics) -> None:
    for reason in ("Throttled", "AssumeRoleDenied", "i-0123456789abcdef0", "Something new"):
        metrics.record_scan(
            "team-a", "daily", ok=False, duration_seconds=1, api_calls={}, provider="aws", reason=reason
        )
    failures = "cloudios_scan_failures_total"
    assert value(metrics, failures, namespace="team-a", provider="aws", reason="Throttled") == 1
    assert value(metrics, failures, namespace="team-a", provider="aws", reason="AssumeRoleDenied") == 1
    assert value(metrics, failures, namespace="team-a", provider="aws", reason="Other") == 2


def test_schedule_next_run_and_period(metrics: Metrics) -> None:
    metrics.ops.set_schedule("team-a", "daily", next_run=T0, following=T0 + timedelta(days=1))
    assert value(metrics, "cloudios_scan_next_run_timestamp_seconds", policy="daily") == T0.timestamp()
    assert value(metrics, "cloudios_scan_schedule_interval_seconds", policy="daily") == 86400
    metrics.forget_policy("team-a", "daily")
    assert value(metrics, "cloudios_scan_next_run_timestamp_seconds", policy="daily") is None


def test_credentials_valid_follows_credential_reasons_only(metrics: Metrics) -> None:
    ops, name = metrics.ops, "cloudios_account_credentials_valid"
    ops.set_credentials("team-a", "prod", ok=True, reason="CredentialsVerified")
    assert value(metrics, name, account="prod") == 1
    ops.set_credentials("team-a", "prod", ok=False, reason="EndpointUnreachable")  # unknown: kept
    assert value(metrics, name, account="prod") == 1
    ops.set_credentials("team-a", "prod", ok=False, reason="AssumeRoleDenied")
    assert value(metrics, name, account="prod") == 0
    assert value(metrics, name, account="prod", reason="AssumeRoleDenied") == 0
    metrics.forget_account("team-a", "prod")
    assert value(metrics, name, account="prod") is None


def test_agent_reports_and_audit_checkpoints(metrics: Metrics) -> None:
    ops = metrics.ops
    ops.set_agent_report("team-a", "edge", T0)
    for status in (200, 200, 401, 413, 429, 418):
        ops.report_received(status)
    assert value(metrics, "cloudios_agent_last_report_timestamp_seconds", account="edge") == T0.timestamp()
    assert value(metrics, "cloudios_agent_reports_received_total") == 2
    rejected = "cloudios_agent_reports_rejected_total"
    assert value(metrics, rejected, reason="unauthenticated") == 1
    assert value(metrics, rejected, reason="too_large") == 1
    assert value(metrics, rejected, reason="rate_limited") == 1
    assert value(metrics, rejected, reason="other") == 1
    assert value(metrics, rejected, reason="forbidden") == 0
    ops.checkpointed(T0)
    assert value(metrics, "cloudios_audit_last_checkpoint_timestamp_seconds") == T0.timestamp()


def test_hourly_savings_are_monthly_over_730_and_accounts_have_their_own(metrics: Metrics) -> None:
    summary = SavingsSummary("USD", Decimal(730), {"idle": Decimal(730)}, {"idle": 1}, 0)
    by_account = {("prod", "USD"): Decimal("500.004"), ("dev", "USD"): Decimal(230)}
    metrics.replace_savings("team-a", {"USD": summary}, by_account=by_account)
    assert value(metrics, "cloudios_potential_hourly_savings", category="idle", currency="USD") == 1.0
    assert value(metrics, "cloudios_potential_monthly_savings", category="idle", currency="USD") == 730
    assert value(metrics, "cloudios_account_potential_monthly_savings", account="prod") == 500.0
    metrics.replace_savings("team-a", {"USD": summary}, by_account={("prod", "USD"): Decimal(1)})
    assert value(metrics, "cloudios_account_potential_monthly_savings", account="dev") is None
    metrics.allow_aggregates("team-a", allowed=False)  # the tenant objects: every savings series goes
    assert value(metrics, "cloudios_account_potential_monthly_savings", account="prod") is None
    assert value(metrics, "cloudios_potential_hourly_savings", category="idle", currency="USD") is None


def test_promtool_accepts_the_exposition(metrics: Metrics) -> None:
    metrics.record_scan("team-a", "daily", ok=False, duration_seconds=1, api_calls={}, provider="aws")
    metrics.ops.set_schedule("team-a", "daily", next_run=T0, following=T0 + timedelta(hours=1))
    metrics.ops.observe_handler("ScanPolicy", "scheduler", 0.1, error=None)
    _, promtool = tools()
    checked = subprocess.run(
        [str(promtool), "check", "metrics"],
        input=metrics.exposition(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # A name promtool's linter refuses (a counter without _total in the text format) fails the check.
    bad = b"# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n"
    refused = subprocess.run(
        [str(promtool), "check", "metrics"], input=bad, capture_output=True, timeout=60, check=False
    )
    assert refused.returncode != 0


class _BrokenStore:
    """A checkpoint store that cannot be read or written (a ConfigMap the operator lost access to)."""

    def latest(self) -> None:
        raise OSError("the ConfigMap cannot be read")

    def publish(self, *_: object, **__: object) -> None:
        raise OSError("the ConfigMap cannot be written")

    def describe(self) -> str:
        return "broken"


def test_audit_checkpoint_passes_report_the_newest_checkpoint(metrics: Metrics, tmp_path: Path) -> None:
    """A pass that signs nothing still reports the current checkpoint's time (the overdue alert reads
    it); a failing pass counts as a failure and leaves the time alone."""
    log = SqlAuditLog.sqlite(tmp_path / "data", chain_key=ChainKey.generate())
    now = [datetime.now(UTC)]
    trail = AuditTrail(log, (CheckpointDirectory(tmp_path / "cp"),), Ed25519PrivateKey.generate(),
                       clock=lambda: now[0])  # fmt: skip
    try:
        signed = audit.checkpoint_once(trail, metrics.ops)
        assert signed is not None
        stamp = datetime.strptime(signed.time, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        last = "cloudios_audit_last_checkpoint_timestamp_seconds"
        assert value(metrics, last) == pytest.approx(stamp)
        now[0] += timedelta(minutes=5)
        assert audit.checkpoint_once(trail, metrics.ops) is None  # nothing moved: still current
        assert value(metrics, last) == pytest.approx(stamp)
        trail.stores = (_BrokenStore(),)  # type: ignore[assignment]
        log.append(AuditEvent(tenant="team-a", actor="alice", action="recommendation.approved",
                              target="team-a/r", details={}))  # fmt: skip
        assert audit.checkpoint_once(trail, metrics.ops) is None
        assert value(metrics, "cloudios_audit_checkpoint_failures_total") == 1
        assert value(metrics, last) == pytest.approx(stamp)
    finally:
        log.close()

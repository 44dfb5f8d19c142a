"""Prometheus metrics: exposition after recorded scans, cent-accurate savings, bounded labels, /metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from cloudios.domain import Action, Category, Confidence, Finding, Money, Provider, SavingsSummary
from cloudios.services import policy_metrics
from cloudios.services.settings import OperatorSettings, SettingsError
from cloudios.sinks.metrics import CATEGORIES, STATES, Metrics
from cloudios.store import ScanRecord, SqlRepository

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
CALLS = {
    "ec2.DescribeInstances": 3,
    "ec2.DescribeInstances.retries": 2,
    "ec2.DescribeVolumes": 1,
    "cloudwatch.GetMetricData": 5,
    "cloudwatch.GetMetricData.retries": 1,
    "sts.AssumeRole": 1,
}
# Exactly these cloudios_* families with exactly these labels (the contract the chart's alert and
# the docs rely on).
FAMILIES = {
    "cloudios_scans": {"namespace", "policy", "result"},
    "cloudios_scan_duration_seconds": {"namespace"},
    "cloudios_scan_last_success_timestamp_seconds": {"namespace", "policy"},
    "cloudios_potential_monthly_savings": {"namespace", "category", "currency"},
    "cloudios_recommendations": {"namespace", "state"},
    "cloudios_cloud_api_calls": {"provider", "service", "operation"},
    "cloudios_cloud_api_retries": {"provider", "service"},
    "cloudios_account_ready": {"namespace", "account"},
    "cloudios_build_info": {"version"},
    "cloudios_webhook_outbox_depth": {"namespace", "policy"},
    "cloudios_webhook_dead_letters": {"namespace", "policy"},
    "cloudios_webhook_deliveries": {"namespace", "policy", "event"},
    "cloudios_webhook_attempts_failed": {"namespace", "policy", "event"},
    "cloudios_potential_hourly_savings": {"namespace", "category", "currency"},
    "cloudios_account_potential_monthly_savings": {"namespace", "account", "currency"},
    "cloudios_reconcile_duration_seconds": {"kind", "handler"},
    "cloudios_reconcile_errors": {"kind", "handler", "error"},
    "cloudios_admission_duration_seconds": {"webhook"},
    "cloudios_admission_requests": {"webhook", "result"},
    "cloudios_scan_failures": {"namespace", "provider", "reason"},
    "cloudios_scan_next_run_timestamp_seconds": {"namespace", "policy"},
    "cloudios_scan_schedule_interval_seconds": {"namespace", "policy"},
    "cloudios_account_credentials_valid": {"namespace", "account", "reason"},
    "cloudios_agent_last_report_timestamp_seconds": {"namespace", "account"},
    "cloudios_agent_reporting_window_seconds": set(),
    "cloudios_agent_reports_received": set(),
    "cloudios_agent_reports_rejected": {"reason"},
    "cloudios_audit_last_checkpoint_timestamp_seconds": set(),
    "cloudios_audit_checkpoint_max_age_seconds": set(),
    "cloudios_audit_checkpoint_failures": set(),
}


def samples(metrics: Metrics, name: str) -> list[Sample]:
    """Samples of one family, parsed back from the text exposition (what Prometheus sees)."""
    text = metrics.exposition().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples if s.name == name]


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    found = [s.value for s in samples(metrics, name) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
    return found[0] if found else None


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(version="1.2.3", process_metrics=False)


def record_two_scans(metrics: Metrics) -> None:
    metrics.record_scan(
        "team-a", "daily", ok=True, duration_seconds=42.5, api_calls=CALLS, finished_at=T0, provider="aws"
    )
    metrics.record_scan(
        "team-a",
        "daily",
        ok=False,
        duration_seconds=3.0,
        api_calls={},
        finished_at=T0 + timedelta(hours=1),
        provider="aws",
    )


def test_exposition_after_scans_has_series_and_values(metrics: Metrics) -> None:
    record_two_scans(metrics)
    metrics.set_account_ready("team-a", "prod", ready=True)
    metrics.set_account_ready("team-a", "staging", ready=False)

    assert value(metrics, "cloudios_scans_total", policy="daily", result="success") == 1
    assert value(metrics, "cloudios_scans_total", policy="daily", result="failure") == 1
    assert value(metrics, "cloudios_scan_duration_seconds_count", namespace="team-a") == 2
    assert value(metrics, "cloudios_scan_duration_seconds_sum", namespace="team-a") == 45.5
    assert value(metrics, "cloudios_scan_duration_seconds_bucket", namespace="team-a", le="5.0") == 1
    assert value(metrics, "cloudios_scan_duration_seconds_bucket", namespace="team-a", le="60.0") == 2
    # The failed run an hour later does not move the last success.
    assert value(
        metrics, "cloudios_scan_last_success_timestamp_seconds", namespace="team-a", policy="daily"
    ) == pytest.approx(T0.timestamp())
    assert value(metrics, "cloudios_account_ready", account="prod") == 1
    assert value(metrics, "cloudios_account_ready", account="staging") == 0
    assert value(metrics, "cloudios_build_info", version="1.2.3") == 1


def test_last_success_only_moves_forward(metrics: Metrics) -> None:
    later, earlier = T0 + timedelta(minutes=5), T0
    metrics.record_scan(
        "ns", "p", ok=True, duration_seconds=1, api_calls={}, finished_at=later, provider="aws"
    )
    metrics.record_scan(
        "ns", "p", ok=True, duration_seconds=1, api_calls={}, finished_at=earlier, provider="aws"
    )
    assert value(metrics, "cloudios_scan_last_success_timestamp_seconds", policy="p") == later.timestamp()
    assert metrics.last_success_of("ns", "p") == later.timestamp()
    assert metrics.last_success_of("ns", "other") is None


def test_first_failure_creates_both_result_series_and_no_last_success(metrics: Metrics) -> None:
    metrics.record_scan("ns", "p", ok=False, duration_seconds=1, api_calls={}, finished_at=T0, provider="aws")
    assert value(metrics, "cloudios_scans_total", result="success") == 0
    assert value(metrics, "cloudios_scans_total", result="failure") == 1
    assert samples(metrics, "cloudios_scan_last_success_timestamp_seconds") == []


def test_api_calls_by_operation_and_retries_counted_separately(metrics: Metrics) -> None:
    record_two_scans(metrics)
    record_two_scans(metrics)
    calls = {
        (s.labels["service"], s.labels["operation"]): s.value
        for s in samples(metrics, "cloudios_cloud_api_calls_total")
    }
    assert calls == {
        ("ec2", "DescribeInstances"): 6,
        ("ec2", "DescribeVolumes"): 2,
        ("cloudwatch", "GetMetricData"): 10,
        ("sts", "AssumeRole"): 2,
    }
    assert not any("retries" in op for _, op in calls)
    retries = {s.labels["service"]: s.value for s in samples(metrics, "cloudios_cloud_api_retries_total")}
    assert retries == {"ec2": 4, "cloudwatch": 2}
    assert {s.labels["provider"] for s in samples(metrics, "cloudios_cloud_api_calls_total")} == {"aws"}


def test_savings_are_cent_accurate_and_every_category_exists(metrics: Metrics) -> None:
    idle = sum((Decimal("0.10"), Decimal("0.20"), Decimal("123456.78")), Decimal(0))  # float would drift
    metrics.set_savings(
        "team-a", {"idle": idle, "orphaned": Decimal("9999999.99"), "rightsize": Decimal("0.005")}, "USD"
    )
    got = {
        s.labels["category"]: Decimal(repr(s.value)).quantize(Decimal("0.01"))
        for s in samples(metrics, "cloudios_potential_monthly_savings")
        if s.labels["namespace"] == "team-a" and s.labels["currency"] == "USD"
    }
    assert set(got) == set(CATEGORIES)
    assert got["idle"] == Decimal("123457.08")
    assert got["orphaned"] == Decimal("9999999.99")
    assert got["rightsize"] == Decimal("0.00")  # banker's rounding of half a cent
    assert all(got[c] == 0 for c in ("modernize", "schedule", "commitment"))
    # The printed value itself is the cent amount, not a binary approximation of it.
    text = metrics.exposition().decode()
    assert re.search(r'category="idle",currency="USD",namespace="team-a"} 123457\.08\n', text)


def test_savings_replace_drops_stale_currencies_and_rejects_unbounded_labels(metrics: Metrics) -> None:
    metrics.replace_savings("ns", {"EUR": SavingsSummary("EUR", Decimal(5), {"idle": Decimal(5)})})
    assert {s.labels["currency"] for s in samples(metrics, "cloudios_potential_monthly_savings")} == {
        "EUR",
        "USD",
    }
    metrics.replace_savings("ns", {"USD": SavingsSummary("USD", Decimal("7.5"), {"idle": Decimal("7.5")})})
    assert {s.labels["currency"] for s in samples(metrics, "cloudios_potential_monthly_savings")} == {"USD"}
    assert value(metrics, "cloudios_potential_monthly_savings", category="idle") == 7.5
    with pytest.raises(ValueError, match="categor"):
        metrics.set_savings("ns", {"i-0123456789abcdef0": Decimal(1)}, "USD")
    with pytest.raises(ValueError, match="ISO 4217"):
        metrics.set_savings("ns", {}, "dollars")


def test_recommendation_states_all_present(metrics: Metrics) -> None:
    metrics.set_recommendation_states("ns", {"Proposed": 4, "Approved": 1, "Bogus": 9})
    got = {s.labels["state"]: s.value for s in samples(metrics, "cloudios_recommendations")}
    assert set(got) == set(STATES)
    assert got["Proposed"] == 4
    assert got["Approved"] == 1
    assert sum(got.values()) == 5
    metrics.set_recommendation_states("ns", {})
    assert all(s.value == 0 for s in samples(metrics, "cloudios_recommendations"))


def test_forget_account_and_policy_remove_their_series(metrics: Metrics) -> None:
    record_two_scans(metrics)
    metrics.set_account_ready("team-a", "prod", ready=True)
    metrics.forget_account("team-a", "prod")
    metrics.forget_account("team-a", "never-seen")  # no error
    assert samples(metrics, "cloudios_account_ready") == []
    metrics.forget_policy("team-a", "daily")
    assert samples(metrics, "cloudios_scan_last_success_timestamp_seconds") == []
    assert samples(metrics, "cloudios_scans_total") == []
    assert metrics.last_success_of("team-a", "daily") is None


def test_label_cardinality_is_bounded(metrics: Metrics) -> None:
    """Many scans touching many resources give a fixed number of series; no resource id is a label."""
    hostile = {
        "ec2.DescribeInstances": 1,
        "ec2.i-0123456789abcdef0": 1,  # not an operation name: folded into 'other'
        "arn:aws:ec2:us-east-1:111111111111:volume/vol-0abc.Describe": 1,
        "ec2.DescribeVolumes/vol-0abcdef.retries": 1,
    }
    for i in range(200):
        metrics.record_scan(
            "team-a",
            "daily",
            ok=i % 3 != 0,
            duration_seconds=i,
            api_calls=hostile,
            finished_at=T0,
            provider="aws",
        )
    metrics.set_savings("team-a", {"idle": Decimal(1)}, "USD")
    metrics.set_recommendation_states("team-a", {"Proposed": 200})
    text = metrics.exposition().decode()
    families = {
        f.name: f
        for f in text_string_to_metric_families(text)
        if f.name.startswith("cloudios_")
        and not f.name.endswith("_created")  # creation times: no labels added
    }
    assert set(families) == set(FAMILIES)
    resource_like = re.compile(r"(^|[^a-z])(i|vol|snap|eni|eipalloc)-[0-9a-f]{6,}|arn:|/")
    for name, family in families.items():
        for sample in family.samples:
            assert set(sample.labels) - {"le"} == FAMILIES[name], sample
            for label_value in sample.labels.values():
                assert not resource_like.search(label_value), sample
    operations = {s.labels["operation"] for s in families["cloudios_cloud_api_calls"].samples}
    assert operations == {"DescribeInstances", "other"}
    assert {
        (s.labels["service"], s.labels["operation"]) for s in families["cloudios_cloud_api_calls"].samples
    } == {
        ("ec2", "DescribeInstances"),
        ("ec2", "other"),
        ("other", "other"),
    }
    assert {s.labels["service"] for s in families["cloudios_cloud_api_retries"].samples} == {"ec2"}
    assert len(families["cloudios_potential_monthly_savings"].samples) == len(CATEGORIES)
    assert len(families["cloudios_recommendations"].samples) == len(STATES)


def test_instances_do_not_share_a_registry() -> None:
    one, two = Metrics(version="a"), Metrics(version="b")  # process collectors too: no duplicate error
    one.set_account_ready("ns", "x", ready=True)
    assert value(one, "cloudios_account_ready", account="x") == 1
    assert samples(two, "cloudios_account_ready") == []
    assert value(two, "cloudios_build_info", version="b") == 1
    assert samples(two, "process_cpu_seconds_total") or samples(two, "python_info")


# -- controller side: settings and what the gauges are computed from ------------------------------


def test_metrics_port_setting() -> None:
    assert OperatorSettings.from_env({}).metrics.port == 9090
    assert OperatorSettings.from_env({"CLOUDIOS_METRICS_PORT": "0"}).metrics.port == 0
    assert OperatorSettings.from_env({"CLOUDIOS_METRICS_PORT": "9102"}).metrics.port == 9102
    with pytest.raises(SettingsError, match="CLOUDIOS_METRICS_PORT"):
        OperatorSettings.from_env({"CLOUDIOS_METRICS_PORT": "70000"})


def finding(resource: str, category: Category, savings: str, currency: str = "USD") -> Finding:
    module = {Category.IDLE: "aws.ec2.idle", Category.ORPHANED: "aws.ebs.unattached"}[category]
    return Finding(
        id=Finding.make_id(Provider.AWS, "111111111111", "us-east-1", resource, module),
        provider=Provider.AWS,
        account_id="111111111111",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id=resource,
        module=module,
        category=category,
        action=Action.STOP,
        title="stop",
        confidence=Confidence.HIGH,
        monthly_savings=Money(amount=Decimal(savings), currency=currency),
        price_basis="list",
    )


def scan_record(scan_id: str, account: str, policy: str, finished: datetime) -> ScanRecord:
    return ScanRecord(
        id=scan_id,
        tenant="team-a",
        account_name=account,
        policy_name=policy,
        provider="aws",
        account_id="111111111111",
        started_at=finished - timedelta(minutes=1),
        finished_at=finished,
        modules=("aws.ec2.idle", "aws.ebs.unattached"),
        api_calls={},
        resources=1,
    )


def test_namespace_savings_and_last_success_from_the_store(tmp_path: Path) -> None:
    store = SqlRepository.sqlite(tmp_path)
    try:
        for account in ("prod", "old"):
            store.upsert_account(tenant="team-a", name=account, provider="aws", account_id="1", now=T0)
        store.record_scan(
            scan_record("s1", "prod", "daily", T0),
            [
                finding("i-1", Category.IDLE, "10.10"),
                finding("i-2", Category.IDLE, "0.20"),
                finding("vol-1", Category.ORPHANED, "3.33"),
            ],
        )
        store.record_scan(
            scan_record("s2", "old", "weekly", T0 + timedelta(hours=2)), [finding("i-9", Category.IDLE, "99")]
        )
        store.mark_account_deleted(tenant="team-a", name="old", now=T0)

        totals = policy_metrics.namespace_savings(store, "team-a")
        assert set(totals) == {"USD"}
        assert totals["USD"].by_category == {"idle": Decimal("10.30"), "orphaned": Decimal("3.33")}
        assert totals["USD"].total == Decimal("13.63")

        status = {
            "accounts": [{"name": "prod", "outcome": "Succeeded", "lastRunTime": "2026-11-02T06:00:00+00:00"}]
        }
        assert policy_metrics.last_success(store, "team-a", "daily", {}) == T0
        assert policy_metrics.last_success(store, "team-a", "daily", status) == T0 + timedelta(days=1)
        assert policy_metrics.last_success(store, "team-a", "never", {}) is None
    finally:
        store.close()

"""The operator's /metrics after a real scan: last success, savings equal to the Recommendations'."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import free_port

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"
CATEGORIES = {"idle", "rightsize", "orphaned", "modernize", "schedule", "commitment"}
CENT = Decimal("0.01")


def scrape(port: int) -> dict[str, list[Sample]]:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    response.raise_for_status()
    found: dict[str, list[Sample]] = defaultdict(list)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[sample.name].append(sample)
    return found


def test_metrics_after_a_scan(operators: OperatorFactory, cluster: Cluster) -> None:
    ns = cluster.namespace
    port = free_port()
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    # A cap above the estate's findings: every open finding is published, so the namespace's
    # savings gauge must equal the Recommendations' sum.
    cluster.create(POLICIES, policy("hourly", schedule="0 * * * *", max_recommendations=500))
    operators(ns, CLOUDIOS_METRICS_PORT=str(port), CLOUDIOS_METRICS_ADDR="127.0.0.1")

    def scanned() -> bool:
        ready = cluster.condition(POLICIES, "hourly", "Ready") or {}
        return ready.get("reason") == "ScanSucceeded"

    eventually(scanned, timeout=120, what="first scan of the policy")
    metrics = scrape(port)

    last = [s for s in metrics["cloudios_scan_last_success_timestamp_seconds"] if s.labels["namespace"] == ns]
    assert [s.labels["policy"] for s in last] == ["hourly"]
    assert last[0].value > 0
    scans = {
        s.labels["result"]: s.value
        for s in metrics["cloudios_scans_total"]
        if s.labels == {"namespace": ns, "policy": "hourly", "result": s.labels["result"]}
    }
    assert scans == {"success": 1, "failure": 0}
    assert any(s.labels["namespace"] == ns for s in metrics["cloudios_scan_duration_seconds_count"])
    calls = [s for s in metrics["cloudios_cloud_api_calls_total"] if s.labels["provider"] == "aws"]
    assert sum(s.value for s in calls) > 0
    assert all("retries" not in s.labels["operation"] for s in calls)
    ready = {
        s.labels["account"]: s.value for s in metrics["cloudios_account_ready"] if s.labels["namespace"] == ns
    }
    assert ready == {"prod": 1}
    assert metrics["cloudios_build_info"][0].value == 1

    recommendations = cluster.items(RECOMMENDATIONS)
    assert recommendations, "the estate has findings"
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for rec in recommendations:
        money = rec["spec"]["monthlySavings"]
        assert money["currency"] == "USD"
        expected[rec["spec"]["category"]] += Decimal(money["amount"])
    gauges = {
        s.labels["category"]: Decimal(repr(s.value))
        for s in metrics["cloudios_potential_monthly_savings"]
        if s.labels["namespace"] == ns and s.labels["currency"] == "USD"
    }
    assert set(gauges) == CATEGORIES  # categories without findings export 0
    for category in CATEGORIES:
        assert abs(gauges[category] - expected.get(category, Decimal(0))) < CENT, category
    states = {
        s.labels["state"]: s.value for s in metrics["cloudios_recommendations"] if s.labels["namespace"] == ns
    }
    assert states["Proposed"] == len(recommendations)
    assert sum(states.values()) == len(recommendations)

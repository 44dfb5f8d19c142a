"""The Kubernetes provider over the AgentReports port: health, snapshot, merged usage, an end-to-end scan."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from cloudios.domain import Metric, Money, Provider
from cloudios.domain import kubernetes as k8s
from cloudios.pipeline import health
from cloudios.pipeline.scan import scan
from cloudios.providers import registry
from cloudios.providers.base import CollectRequest, ProviderError
from cloudios.providers.kubernetes import nodes as node_parsing
from cloudios.providers.kubernetes.provider import KubernetesProvider, NoCredentials
from tests.providers import k8s_scenario as scenario
from tests.support import agent_reports as agent
from tests.support.agent_reports import MIB, InMemoryAgentReports

AKS_NODE = (
    "azure:///subscriptions/s/resourceGroups/mc_rg/providers/Microsoft.Compute/virtualMachineScaleSets/"
    "aks-pool/virtualMachines/0"
)


def _request(reports: InMemoryAgentReports | None, lookback: int = 14) -> CollectRequest:
    return CollectRequest(
        tenant=scenario.TENANT,
        account_name="shop-prod",
        account=scenario.account().spec,
        lookback_days=lookback,
        kinds=frozenset(k8s.KINDS),
        metrics=(),
        end=scenario.NOW,
        agent_reports=reports,
    )


def test_the_registry_serves_an_agent_fed_provider_without_cloud_credentials() -> None:
    provider = registry.get("kubernetes")
    assert isinstance(provider, KubernetesProvider)
    assert isinstance(provider.credentials({}, secret="none", key=None), NoCredentials)
    assert "minted by the operator" in provider.secret_format
    shards = provider.shards(scenario.account().spec)
    assert [(s.name, s.scope) for s in shards] == [("shop-prod", ())]
    assert provider.job_environment == ()


def test_health_says_how_to_install_the_agent_until_it_reports() -> None:
    account = scenario.account()
    without_store = health.probe(account, credentials=None, timeout=5)
    assert (without_store.ok, without_store.reason) == (False, "AgentReportsUnavailable")
    silent = health.probe(account, credentials=None, timeout=5, agent_reports=InMemoryAgentReports())
    assert (silent.ok, silent.reason) == (False, "AgentNotReporting")
    assert "helm install cloudios-agent" in silent.message
    assert "team-a" in silent.message
    reports = scenario.reports()
    other_tenant = InMemoryAgentReports(
        states={("team-b", scenario.CLUSTER): reports.states[(scenario.TENANT, scenario.CLUSTER)]}
    )
    assert (
        health.probe(account, credentials=None, timeout=5, agent_reports=other_tenant).reason
        == "AgentNotReporting"
    )
    state = reports.states[(scenario.TENANT, scenario.CLUSTER)]
    fresh = InMemoryAgentReports()
    fresh.put(
        scenario.TENANT,
        agent.state(
            scenario.CLUSTER,
            state.inventory,
            received_at=datetime.now(UTC),
            first_report_at=scenario.FIRST_REPORT,
        ),
    )
    ok = health.probe(account, credentials=None, timeout=5, agent_reports=fresh)
    assert ok.ok, ok
    assert "shop-prod" in (ok.identity or "")
    stale = InMemoryAgentReports()
    stale.put(
        scenario.TENANT,
        agent.state(
            scenario.CLUSTER,
            state.inventory,
            received_at=datetime.now(UTC) - timedelta(hours=3),
            first_report_at=scenario.FIRST_REPORT,
        ),
    )
    result = health.probe(account, credentials=None, timeout=5, agent_reports=stale)
    assert (result.ok, result.reason) == (False, "AgentStale")


def test_permissions_are_the_agents_read_only_cluster_role() -> None:
    from cloudios.modules import registry as modules  # noqa: PLC0415

    role = KubernetesProvider().permissions(modules.for_provider("kubernetes"))
    assert role["kind"] == "ClusterRole"
    verbs = {
        (g, r): rule["verbs"] for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    assert verbs[("", "pods")] == ["list", "watch"]
    assert verbs[("metrics.k8s.io", "pods")] == ["get", "list"]
    assert ("autoscaling", "horizontalpodautoscalers") in verbs
    assert not {r for _, r in verbs} & {"secrets", "configmaps", "pods/log", "pods/exec"}
    assert all(set(v) <= {"get", "list", "watch"} for v in verbs.values())
    assert KubernetesProvider().permissions([])["rules"], "the baseline (nodes, pods) is always granted"


@pytest.mark.parametrize(
    ("provider_id", "zone", "region", "expected"),
    [
        ("aws:///us-east-1a/i-0abc", None, None, ("aws", "us-east-1", "us-east-1a")),
        ("gce://my-proj/europe-west1-b/gke-pool-1", None, None, ("gcp", "europe-west1", "europe-west1-b")),
        (AKS_NODE, "westeurope-1", None, ("azure", "westeurope", "westeurope-1")),
        ("azure:///subscriptions/s/x", None, "eastus", ("azure", "eastus", None)),
        ("kind://docker/kind/kind-worker", None, None, (None, None, None)),
        ("", "us-central1-a", None, (None, "us-central1", "us-central1-a")),
    ],
)
def test_a_nodes_cloud_region_and_zone_come_from_its_provider_id_and_labels(
    provider_id: str,
    zone: str | None,
    region: str | None,
    expected: tuple[str | None, str | None, str | None],
) -> None:
    node = agent.node("n", created=scenario.NOW, provider_id=provider_id, zone=zone, region=region)
    where = node_parsing.placement(node)
    assert (where.cloud, where.region, where.zone) == expected


def test_collect_builds_the_snapshot_from_the_latest_inventory_and_the_window() -> None:
    result = KubernetesProvider().collect(_request(scenario.reports()))
    snapshot = result.snapshot
    assert (snapshot.provider, snapshot.account_id) == (Provider.KUBERNETES, "shop-prod")
    assert result.api_calls == {"store.cluster_state": 1, "store.container_usage": 1}
    assert result.warnings == []
    kinds = {r.kind for r in snapshot.resources}
    assert kinds == k8s.KINDS
    node = next(r for r in snapshot.of_kind(k8s.K8S_NODE) if r.id == "n1")
    assert (node.region, node.attr("cloud"), node.attr("instanceType")) == (
        "europe-west1",
        "gcp",
        "e2-standard-4",
    )
    web = next(r for r in snapshot.of_kind(k8s.K8S_CONTAINER) if r.id == "shop/Deployment/web/app")
    assert web.attr("requests") == {"cpuM": 1000, "memoryBytes": 2 * 1024**3}
    assert web.attr("cpu")["samples"] == 1400
    assert 196 <= web.attr("cpu")["p95"] <= 204  # the sketch's 2 % of the true 200
    assert web.attr("memory")["max"] == 300 * MIB
    assert web.attr("hoursWithData") == 14 * 24
    assert web.attr("windowHours") == 14 * 24 + 12
    assert snapshot.metric(web.id, Metric.CPU_MILLICORES).days_with_data == 14
    claim = next(r for r in snapshot.of_kind(k8s.K8S_CLAIM) if r.id == "shop/old-data")
    assert (claim.attr("cloud"), claim.attr("diskType"), claim.attr("capacityBytes")) == (
        "gcp",
        "pd-balanced",
        100 * 1024**3,
    )
    assert claim.attr("unmountedSince") == (scenario.NOW - timedelta(days=20)).isoformat()
    lb = next(r for r in snapshot.of_kind(k8s.K8S_LOAD_BALANCER) if r.id == "shop/old-lb")
    assert (lb.region, lb.attr("cloud"), lb.attr("readyEndpoints")) == ("europe-west1", "gcp", 0)
    json.dumps(
        [r.model_dump(mode="json") for r in snapshot.resources]
    )  # JSON-safe for the store and golden files


def test_the_window_quantile_merges_sketches_instead_of_taking_a_quantile_of_quantiles() -> None:
    # 13 quiet days at 100m and one busy day at 900m: the daily p95s are 100 (13x) and 900 (1x), whose
    # p95 would be 900; over all samples the busy day is 1/14 of them, so the window p95 is 900 but
    # the p90 is 100. With the busy day at a fifth of the samples, the window p95 drops to 100.
    key = ("shop", "Deployment", "web", "app")
    reports = scenario.reports()
    rows = [r for r in reports.usage[(scenario.TENANT, scenario.CLUSTER)] if r.workload_name != "web"]
    days = agent.daily_usage(key, end=scenario.NOW, days=14, cpu=[100.0] * 100, memory=[MIB] * 100)
    days[-1] = agent.usage_row(key, days[-1].start, [900.0] * 20, [MIB] * 20)
    reports.usage[(scenario.TENANT, scenario.CLUSTER)] = rows + days
    web = next(
        r
        for r in KubernetesProvider().collect(_request(reports)).snapshot.of_kind(k8s.K8S_CONTAINER)
        if r.id == "shop/Deployment/web/app"
    )
    assert web.attr("cpu")["samples"] == 13 * 100 + 20
    assert web.attr("cpu")["p95"] == pytest.approx(100, rel=0.02)
    assert web.attr("cpu")["p99"] == pytest.approx(900, rel=0.02)


def test_an_hour_reported_by_agent_and_backfill_counts_once_and_hours_make_the_running_share() -> None:
    key = ("shop", "Deployment", "web", "app")
    day = datetime(2026, 11, 29, tzinfo=UTC)
    rows = [
        agent.usage_row(key, day + timedelta(hours=h), [100.0] * 10, [MIB] * 10, period="hour", source=source)
        for h in range(6)
        for source in ("prometheus", "metrics-api")
    ]
    rows.append(agent.usage_row(key, day, [100.0] * 60, [MIB] * 60, period="day", source="prometheus"))
    reports = scenario.reports()
    reports.usage[(scenario.TENANT, scenario.CLUSTER)] = rows
    snapshot = KubernetesProvider().collect(_request(reports, lookback=2)).snapshot
    web = next(r for r in snapshot.of_kind(k8s.K8S_CONTAINER) if r.id == "shop/Deployment/web/app")
    assert web.attr("cpu")["samples"] == 60  # 6 hours x 10, not 120 and not the day's 60 added again
    assert web.attr("hoursWithData") == 6
    assert web.attr("runningShare") == round(6 / web.attr("windowHours"), 4)


def test_no_store_or_no_agent_is_a_provider_error_naming_the_fix() -> None:
    with pytest.raises(ProviderError) as missing:
        KubernetesProvider().collect(_request(None))
    assert missing.value.reason == "AgentReportsUnavailable"
    with pytest.raises(ProviderError) as silent:
        KubernetesProvider().collect(_request(InMemoryAgentReports()))
    assert silent.value.reason == "AgentNotReporting"


def test_a_scan_publishes_priced_kubernetes_findings_once_per_resource() -> None:
    outcome = scan(scenario.account(), scenario.policy(), now=scenario.NOW, agent_reports=scenario.reports())
    by_resource = {f.resource_id: f for f in outcome.findings}
    assert len(by_resource) == len(outcome.findings), "one finding per resource"
    web = by_resource["shop/Deployment/web"]
    assert web.module == "k8s.workload.rightsize"
    assert web.monthly_savings is not None
    assert Decimal(20) < web.monthly_savings.amount < Decimal(40)
    assert "kubectl patch deployment web -n shop --type=strategic" in web.evidence["kubectl"]
    forgotten = by_resource["shop/Deployment/forgotten"]
    assert forgotten.module == "k8s.workload.abandoned"
    assert forgotten.evidence["supersedes"] == ["k8s.workload.rightsize"]
    hungry = by_resource["shop/Deployment/hungry"]
    assert hungry.monthly_savings is None
    assert "OOM" in (hungry.unpriced_reason or "")
    assert hungry.proposed["containers"]["app"]["requests"]["memory"] == "320Mi"
    api = by_resource["shop/Deployment/api"]
    assert api.evidence["containers"]["app"]["cpu"] is None  # its HPA scales on CPU
    assert api.evidence["containers"]["app"]["memory"] == "decrease"
    assert by_resource["shop/old-data"].monthly_savings == Money(
        amount=Decimal("10.00")
    )  # 100 GiB pd-balanced
    assert "shop/fresh" not in by_resource
    assert by_resource["pv-gone"].module == "k8s.pvc.unused"
    assert by_resource["shop/old-lb"].monthly_savings is None  # GKE forwarding rules: not in the GCP book
    assert "forwarding-rule" in (by_resource["shop/old-lb"].unpriced_reason or "")
    # n3 runs only DaemonSet pods; n2's pods (1,500m) do not fit in n1's room (80 % of 3,940m less 1,950m).
    drained = [f for f in outcome.findings if f.module == "k8s.node.underutilized"]
    assert [f.resource_id for f in drained] == ["n3"]
    assert drained[0].monthly_savings == Money(amount=Decimal("107.62"))  # e2-standard-4, europe-west1


def test_services_hand_scans_the_store_as_the_port_only_when_it_serves_it() -> None:
    from cloudios.services.context import agent_reports_of  # noqa: PLC0415 - services import the kube client

    double = InMemoryAgentReports()
    assert agent_reports_of(double) is double
    assert (
        agent_reports_of(object()) is None
    )  # a store without the port: AgentReportsUnavailable, not AttributeError

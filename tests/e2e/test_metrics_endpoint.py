"""The operator's /metrics after a real scan: last success, savings equal to the Recommendations'."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from decimal import Decimal

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from cloudios.security import tls
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import ControlPlane, free_port

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"
CATEGORIES = {"idle", "rightsize", "orphaned", "modernize", "schedule", "commitment"}
CENT = Decimal("0.01")


READER_ROLE = "cloudios-e2e-metrics-reader"


def service_account_token(plane: ControlPlane, namespace: str, name: str) -> str:
    """A real ServiceAccount token from the API server (TokenRequest), like Prometheus's in a pod."""
    core = k8s.CoreV1Api(plane.api_client())
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=name))
    )
    request = k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=600)
    )
    return str(core.create_namespaced_service_account_token(name, namespace, request).status.token)


def grant_metrics(plane: ControlPlane, namespace: str, name: str) -> None:
    """What the chart's cloudios-metrics-reader ClusterRole gives Prometheus: get on /metrics."""
    rbac = k8s.RbacAuthorizationV1Api(plane.api_client())
    role = k8s.V1ClusterRole(
        metadata=k8s.V1ObjectMeta(name=READER_ROLE),
        rules=[k8s.V1PolicyRule(non_resource_urls=["/metrics"], verbs=["get"])],
    )
    with contextlib.suppress(ApiException):
        rbac.create_cluster_role(role)
    binding = k8s.V1ClusterRoleBinding(
        metadata=k8s.V1ObjectMeta(name=f"{READER_ROLE}-{namespace}"),
        role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=READER_ROLE),
        subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)],
    )
    rbac.create_cluster_role_binding(binding)


def scrape(port: int, token: str, ca: str) -> dict[str, list[Sample]]:
    response = httpx.get(
        f"https://127.0.0.1:{port}/metrics",
        headers={"Authorization": f"Bearer {token}"},
        verify=tls.client_context(ca),
        timeout=10,
    )
    response.raise_for_status()
    found: dict[str, list[Sample]] = defaultdict(list)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[sample.name].append(sample)
    return found


def test_metrics_after_a_scan(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane
) -> None:
    ns = cluster.namespace
    reader = service_account_token(control_plane, ns, "prometheus")
    stranger = service_account_token(control_plane, ns, "stranger")
    grant_metrics(control_plane, ns, "prometheus")
    port = free_port()
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    # A cap above the estate's findings: every open finding is published, so the namespace's
    # savings gauge must equal the Recommendations' sum.
    cluster.create(POLICIES, policy("hourly", schedule="0 * * * *", max_recommendations=500))
    operator = operators(ns, CLOUDIOS_METRICS_PORT=str(port), CLOUDIOS_METRICS_ADDR="127.0.0.1")
    ca = operator.env["CLOUDIOS_WEBHOOK_CA_FILE"]

    def scanned() -> bool:
        ready = cluster.condition(POLICIES, "hourly", "Ready") or {}
        return ready.get("reason") == "ScanSucceeded"

    eventually(scanned, timeout=120, what="first scan of the policy")
    metrics = scrape(port, reader, ca)
    # The real API server decides: no token 401, a token without get /metrics 403, never the data.
    url, verify = f"https://127.0.0.1:{port}/metrics", tls.client_context(ca)
    assert httpx.get(url, verify=verify, timeout=10).status_code == 401
    denied = httpx.get(url, headers={"Authorization": f"Bearer {stranger}"}, verify=verify, timeout=10)
    assert denied.status_code == 403
    assert "cloudios_" not in denied.text

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
        money = rec["spec"].get("monthlySavings")
        if money is None:  # unpriced: published with its reason, left out of the savings gauges
            assert rec["spec"]["unpricedReason"]
            continue
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

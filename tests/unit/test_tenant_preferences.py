"""Restrict and object: the cloudios-tenant ConfigMap opts a namespace out of aggregate metrics and AI."""

from __future__ import annotations

from decimal import Decimal

import pytest
from kubernetes import client as k8s

from cloudios.services import tenant_preferences
from cloudios.services.tenant_preferences import TenantPreferences
from cloudios.sinks.kube import Kube
from cloudios.sinks.metrics import Metrics
from tests.support.controlplane import ControlPlane


class StandInConfigMaps:
    """Stand-in for Kube.config_map (the cluster test below reads a real one)."""

    def __init__(self, data: dict[str, str] | None, *, fail: bool = False) -> None:
        self.data, self.fail = data, fail

    def config_map(self, namespace: str, name: str) -> tuple[dict[str, str], str] | None:
        if self.fail:
            raise ConnectionError("api server down")
        assert name == tenant_preferences.CONFIGMAP
        return None if self.data is None else (self.data, "1")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (None, TenantPreferences(ai_verifier=True, aggregate_metrics=True)),
        ({"aiVerifier": "optOut"}, TenantPreferences(ai_verifier=False, aggregate_metrics=True)),
        ({"aggregateMetrics": "optOut"}, TenantPreferences(ai_verifier=True, aggregate_metrics=False)),
        ({"aiVerifier": "allowed", "aggregateMetrics": "yes"}, TenantPreferences()),
    ],
)
def test_the_configmap_is_read_as_documented(
    data: dict[str, str] | None, expected: TenantPreferences
) -> None:
    assert tenant_preferences.read(StandInConfigMaps(data), "team-a") == expected


def test_an_unreadable_configmap_counts_as_an_objection() -> None:
    assert tenant_preferences.read(StandInConfigMaps(None, fail=True), "team-a") == TenantPreferences(
        ai_verifier=False, aggregate_metrics=False
    )


def _namespaces(metrics: Metrics) -> set[str]:
    names = {"cloudios_potential_monthly_savings", "cloudios_recommendations"}
    return {
        sample.labels["namespace"]
        for family in metrics.registry.collect()
        if family.name in names
        for sample in family.samples
    }


def test_an_opted_out_namespace_exports_no_savings_or_recommendation_series() -> None:
    metrics = Metrics(version="test", process_metrics=False)
    for ns in ("team-a", "team-b"):
        metrics.set_savings(ns, {"idle": Decimal("12.34")}, "USD")
        metrics.set_recommendation_states(ns, {"Proposed": 2})
    assert _namespaces(metrics) == {"team-a", "team-b"}
    metrics.allow_aggregates("team-a", allowed=False)
    assert _namespaces(metrics) == {"team-b"}  # existing series gone at once
    metrics.set_savings("team-a", {"idle": Decimal(1)}, "USD")
    metrics.set_recommendation_states("team-a", {"Proposed": 1})
    assert _namespaces(metrics) == {"team-b"}  # and none come back
    assert b'namespace="team-a"' not in metrics.exposition().split(b"cloudios_scans")[0]
    metrics.allow_aggregates("team-a", allowed=True)
    metrics.set_savings("team-a", {"idle": Decimal(1)}, "USD")
    assert _namespaces(metrics) == {"team-a", "team-b"}


@pytest.mark.cluster
def test_the_real_configmap_is_honoured(control_plane: ControlPlane, namespace: str) -> None:
    k8s.CoreV1Api(control_plane.api_client()).create_namespaced_config_map(
        namespace,
        k8s.V1ConfigMap(
            metadata=k8s.V1ObjectMeta(name=tenant_preferences.CONFIGMAP),
            data={"aiVerifier": "optOut", "aggregateMetrics": "optOut"},
        ),
    )
    kube = Kube.connect(pool_size=1, timeout=30, kubeconfig=str(control_plane.kubeconfig_path))
    try:
        assert tenant_preferences.read(kube, namespace) == TenantPreferences(
            ai_verifier=False, aggregate_metrics=False
        )
        assert tenant_preferences.read(kube, "default") == TenantPreferences()
    finally:
        kube.close()

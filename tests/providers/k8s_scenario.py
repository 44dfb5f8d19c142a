"""A small GKE-like cluster as the agent would have reported it, fed through the AgentReports test double."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from cloudios.api import CloudAccount, ScanPolicy
from cloudios_agent import wire
from tests.support import agent_reports as agent
from tests.support.agent_reports import GIB, MIB, InMemoryAgentReports

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
CREATED = NOW - timedelta(days=60)
FIRST_REPORT = NOW - timedelta(days=30)
TENANT, CLUSTER = "team-a", "shop-prod"
WEB = ("shop", "Deployment", "web", "app")
IDLE = ("shop", "Deployment", "forgotten", "app")
HUNGRY = ("shop", "Deployment", "hungry", "app")
API = ("shop", "Deployment", "api", "app")
PD = "pd.csi.storage.gke.io"


def account(cluster: str = CLUSTER) -> CloudAccount:
    return CloudAccount.model_validate(
        {
            "apiVersion": "cloudios.io/v1alpha1",
            "kind": "CloudAccount",
            "metadata": {"name": "shop-prod", "namespace": TENANT},
            "spec": {"provider": "kubernetes", "kubernetes": {"clusterName": cluster}},
        }
    )


def policy(modules: list[dict[str, Any]] | None = None, lookback: int = 14) -> ScanPolicy:
    return ScanPolicy.model_validate(
        {
            "apiVersion": "cloudios.io/v1alpha1",
            "kind": "ScanPolicy",
            "metadata": {"name": "daily", "namespace": TENANT},
            "spec": {"schedule": "0 6 * * *", "lookbackDays": lookback, "modules": modules or []},
        }
    )


def _pods(
    workload: tuple[str, str, str, str], replicas: int, requests: tuple[int, int], **kw: Any
) -> list[wire.Pod]:
    namespace, kind, name, container = workload
    nodes = ["n1", "n2", "n3"]
    return [
        agent.pod(
            namespace,
            f"{name}-{i}",
            (kind, name),
            nodes[i % len(nodes)],
            [agent.container(container, *requests, **kw)],
            started=CREATED,
        )
        for i in range(replicas)
    ]


def inventory() -> wire.Inventory:
    nodes = tuple(agent.node(n, created=CREATED) for n in ("n1", "n2", "n3"))
    daemon = [
        agent.pod(
            "kube-system",
            f"logs-{n.name}",
            ("DaemonSet", "logs"),
            n.name,
            [agent.container("c", 100, 128 * MIB)],
            started=CREATED,
        )
        for n in nodes
    ]
    return wire.Inventory(
        taken_at=NOW,
        nodes=nodes,
        workloads=(
            wire.Workload("shop", "Deployment", "web", CREATED, 2),
            wire.Workload("shop", "Deployment", "forgotten", CREATED, 1),
            wire.Workload("shop", "Deployment", "hungry", CREATED, 1),
            wire.Workload("shop", "Deployment", "api", CREATED, 2, wire.Hpa(2, 6, ("cpu",))),
            wire.Workload("kube-system", "DaemonSet", "logs", CREATED, None),
        ),
        pods=(
            *_pods(WEB, 2, (1000, 2 * GIB)),
            *_pods(IDLE, 1, (250, 256 * MIB)),
            *_pods(HUNGRY, 1, (100, 256 * MIB), limits=(None, 256 * MIB), oom_at=NOW - timedelta(days=2)),
            *_pods(API, 2, (500, 1 * GIB)),
            *daemon,
        ),
        claims=(
            wire.Claim("shop", "old-data", "Bound", CREATED, 100 * GIB, "standard-rwo", "pv-old"),
            wire.Claim("shop", "fresh", "Bound", CREATED, 10 * GIB, "standard-rwo", "pv-fresh"),
        ),
        volumes=(
            wire.Volume("pv-old", "Bound", CREATED, 100 * GIB, "standard-rwo", "shop/old-data", PD),
            wire.Volume("pv-fresh", "Bound", CREATED, 10 * GIB, "standard-rwo", "shop/fresh", PD),
            wire.Volume("pv-gone", "Released", CREATED, 50 * GIB, "premium-rwo", "shop/deleted", PD),
        ),
        load_balancers=(
            wire.LoadBalancer("shop", "web-lb", CREATED, 2),
            wire.LoadBalancer("shop", "old-lb", CREATED, 0),
        ),
    )


def usage(days: int = 14) -> list[wire.ContainerUsage]:
    # web: mostly 100-200m, memory 300 MiB; forgotten: 1m; hungry: at its 256 MiB limit; api: 150m.
    web_cpu = [100.0] * 50 + [150.0] * 40 + [200.0] * 10
    rows = agent.daily_usage(WEB, end=NOW, days=days, cpu=web_cpu, memory=[300.0 * MIB] * 100)
    rows += agent.daily_usage(IDLE, end=NOW, days=days, cpu=[1.0] * 100, memory=[20.0 * MIB] * 100)
    rows += agent.daily_usage(HUNGRY, end=NOW, days=days, cpu=[60.0] * 100, memory=[250.0 * MIB] * 100)
    rows += agent.daily_usage(API, end=NOW, days=days, cpu=[150.0] * 100, memory=[200.0 * MIB] * 100)
    return rows


def reports(days: int = 14) -> InMemoryAgentReports:
    found = InMemoryAgentReports()
    found.put(
        TENANT,
        agent.state(
            CLUSTER,
            inventory(),
            received_at=NOW - timedelta(minutes=1),
            first_report_at=FIRST_REPORT,
            claims_unmounted_since={
                "shop/old-data": NOW - timedelta(days=20),
                "shop/fresh": NOW - timedelta(days=2),
            },
            load_balancers_unready_since={"shop/old-lb": NOW - timedelta(days=10)},
        ),
        usage(days),
    )
    return found

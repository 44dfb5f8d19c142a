"""An in-memory test double of the AgentReports port (providers/base.py), and generators of agent data.

``InMemoryAgentReports`` stands in for the store's implementation of the port: it holds
``ClusterState`` objects and usage rows the tests build, scoped by (tenant, cluster) exactly as the
port promises. It is not a mock of any service: no calls are recorded or asserted on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cloudios.domain.cluster import ClusterState
from cloudios_agent import wire
from cloudios_agent.sketch import Sketch

GIB = 1024**3
MIB = 1024**2


@dataclass
class InMemoryAgentReports:
    """The AgentReports port over dictionaries: what ingest would have stored, per tenant and cluster."""

    states: dict[tuple[str, str], ClusterState] = field(default_factory=dict)
    usage: dict[tuple[str, str], list[wire.ContainerUsage]] = field(default_factory=dict)

    def put(self, tenant: str, state: ClusterState, usage: Iterable[wire.ContainerUsage] = ()) -> None:
        self.states[(tenant, state.cluster)] = state
        self.usage.setdefault((tenant, state.cluster), []).extend(usage)

    def cluster_state(self, tenant: str, cluster: str) -> ClusterState | None:
        return self.states.get((tenant, cluster))

    def container_usage(self, tenant: str, cluster: str, *, since: datetime) -> Sequence[wire.ContainerUsage]:
        rows = [u for u in self.usage.get((tenant, cluster), []) if u.start >= since]
        return sorted(rows, key=lambda u: u.start)


def node(
    name: str,
    *,
    created: datetime,
    instance_type: str = "e2-standard-4",
    provider_id: str | None = None,
    region: str | None = "europe-west1",
    zone: str | None = "europe-west1-b",
    cpu_m: int = 4000,
    memory: int = 16 * GIB,
    capacity_type: str | None = "on-demand",
    arch: str = "amd64",
    unschedulable: bool = False,
) -> wire.Node:
    return wire.Node(
        name,
        created,
        wire.Resources(cpu_m, memory),
        wire.Resources(cpu_m - 60, memory - GIB // 2),
        instance_type,
        region,
        zone,
        provider_id if provider_id is not None else f"gce://proj/{zone}/{name}",
        capacity_type,
        arch,
        unschedulable,
    )


def pod(
    namespace: str,
    name: str,
    workload: tuple[str, str],
    node_name: str | None,
    containers: Sequence[wire.Container],
    *,
    started: datetime,
    phase: str = "Running",
    claims: tuple[str, ...] = (),
) -> wire.Pod:
    kind, owner = workload
    return wire.Pod(namespace, name, kind, owner, phase, tuple(containers), node_name, started, claims)


def container(
    name: str,
    cpu_m: int | None,
    memory: int | None,
    *,
    limits: tuple[int | None, int | None] = (None, None),
    restarts: int = 0,
    oom_at: datetime | None = None,
) -> wire.Container:
    return wire.Container(name, wire.Resources(cpu_m, memory), wire.Resources(*limits), restarts, oom_at)


def summary(values: Iterable[float]) -> wire.Summary:
    return wire.Summary.of(Sketch.of(values))


def usage_row(
    key: tuple[str, str, str, str],
    start: datetime,
    cpu: Iterable[float],
    memory: Iterable[float],
    *,
    period: str = "day",
    source: str = "metrics-api",
) -> wire.ContainerUsage:
    namespace, kind, name, container_name = key
    return wire.ContainerUsage(
        namespace, kind, name, container_name, period, start, source, summary(cpu), summary(memory)
    )


def daily_usage(
    key: tuple[str, str, str, str],
    *,
    end: datetime,
    days: int,
    cpu: Sequence[float],
    memory: Sequence[float],
    source: str = "metrics-api",
) -> list[wire.ContainerUsage]:
    """``days`` daily rows ending the day before ``end``, each with the given samples."""
    first = datetime(end.year, end.month, end.day, tzinfo=UTC) - timedelta(days=days)
    return [usage_row(key, first + timedelta(days=i), cpu, memory, source=source) for i in range(days)]


def state(
    cluster: str,
    inventory: wire.Inventory,
    *,
    received_at: datetime,
    first_report_at: datetime,
    claims_unmounted_since: dict[str, datetime] | None = None,
    load_balancers_unready_since: dict[str, datetime] | None = None,
    workloads_idle_since: dict[str, datetime] | None = None,
) -> ClusterState:
    return ClusterState(
        cluster=cluster,
        inventory=inventory,
        received_at=received_at,
        first_report_at=first_report_at,
        claims_unmounted_since=claims_unmounted_since or {},
        load_balancers_unready_since=load_balancers_unready_since or {},
        workloads_idle_since=workloads_idle_since or {},
    )

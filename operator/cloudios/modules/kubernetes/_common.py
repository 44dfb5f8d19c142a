"""Shared pieces of the Kubernetes modules: the cluster's objects by id, usage lines, quantities, permissions.

A workload's pods hold their requests on the nodes they run on; the Kubernetes price book prices
that hold at the node's CPU and memory unit prices (pricing/kubernetes). Lines are grouped by node,
scaled by the pods on each node and by the workload's running share of the window.
"""

from __future__ import annotations

import math
import shlex
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cloudios.domain import Resource, Snapshot, Usage
from cloudios.domain import kubernetes as k8s
from cloudios.modules.shared import CamelSettings, as_datetime, as_int, build_finding, evidence, label

__all__ = [
    "CamelSettings",
    "Cluster",
    "as_datetime",
    "as_int",
    "build_finding",
    "cpu_quantity",
    "evidence",
    "held_usage",
    "label",
    "memory_quantity",
]

MIB = 1024**2
GIB = 1024**3
# The agent's RBAC, as ``<apiGroup>/<resource>`` (providers/kubernetes/rbac.py builds the ClusterRole).
PODS, NODES = "core/pods", "core/nodes"
WORKLOADS = ("apps/deployments", "apps/statefulsets", "apps/daemonsets", "batch/cronjobs")
HPAS = "autoscaling/horizontalpodautoscalers"
POD_METRICS = "metrics.k8s.io/pods"
CLAIMS, VOLUMES = "core/persistentvolumeclaims", "core/persistentvolumes"
SERVICES, ENDPOINT_SLICES = "core/services", "discovery.k8s.io/endpointslices"
RUNNING = "Running"
_PLACES = Decimal("0.000001")


@dataclass
class Cluster:
    """The snapshot's Kubernetes objects indexed the way the modules look them up."""

    nodes: dict[str, Resource] = field(default_factory=dict)
    workloads: dict[str, Resource] = field(default_factory=dict)
    pods_of: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))
    containers_of: dict[str, list[Resource]] = field(default_factory=lambda: defaultdict(list))
    cluster: Resource | None = None

    @classmethod
    def of(cls, snapshot: Snapshot) -> Cluster:
        found = cls()
        for r in snapshot.resources:
            if r.kind == k8s.K8S_NODE:
                found.nodes[r.id] = r
            elif r.kind == k8s.K8S_WORKLOAD:
                found.workloads[r.id] = r
            elif r.kind == k8s.K8S_POD:
                found.pods_of[str(r.attr("workload"))].append(r)
            elif r.kind == k8s.K8S_CONTAINER:
                found.containers_of[str(r.attr("workload"))].append(r)
            elif r.kind == k8s.K8S_CLUSTER:
                found.cluster = r
        return found

    def running_pods(self, workload_id: str) -> list[Resource]:
        return [p for p in self.pods_of.get(workload_id, []) if p.attr("phase") == RUNNING and p.attr("node")]


def held_usage(
    cluster: Cluster,
    pods: Iterable[Resource],
    per_pod: Callable[[Resource], tuple[int, int]],
    share: float,
) -> list[Usage]:
    """CPU and memory lines of what ``pods`` hold (``per_pod``: millicores, bytes), per node, x ``share``."""
    held: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for pod in pods:
        cpu_m, memory = per_pod(pod)
        total = held[str(pod.attr("node"))]
        total[0] += cpu_m
        total[1] += memory
    lines: list[Usage] = []
    for node_name, (cpu_m, memory) in sorted(held.items()):
        node = cluster.nodes.get(node_name)
        attributes = node_attributes(node)
        region = node.region if node is not None else k8s.UNKNOWN_REGION
        if cpu_m:
            lines.append(
                Usage(
                    sku=k8s.NODE_CPU, region=region, attributes=attributes, quantity=_q(cpu_m / 1000 * share)
                )
            )
        if memory:
            quantity = _q(memory / GIB * share)
            lines.append(Usage(sku=k8s.NODE_MEMORY, region=region, attributes=attributes, quantity=quantity))
    return lines


def node_attributes(node: Resource | None) -> dict[str, str]:
    """What the price book needs to price a node or its CPU and memory shares."""
    if node is None:
        return {"cloud": "", "instanceType": ""}
    a = node.attributes
    return {
        "cloud": str(a.get("cloud") or ""),
        "instanceType": str(a.get("instanceType") or ""),
        "capacityType": str(a.get("capacityType") or "on-demand"),
        "nodeCpuM": str(as_int(a.get("cpuCapacityM"))),
        "nodeMemoryBytes": str(as_int(a.get("memoryCapacityBytes"))),
    }


def node_usage(node: Resource) -> Usage:
    """The whole node's line (hourly x 730)."""
    attributes = {k: v for k, v in node_attributes(node).items() if not k.startswith("node")}
    return Usage(sku=k8s.NODE, region=node.region, attributes=attributes)


def requests(container: Resource | dict[str, Any], which: str = "requests") -> tuple[int, int]:
    """(millicores, bytes) of a container's requests or limits; absent values count as 0."""
    spec = container.attr(which) if isinstance(container, Resource) else container.get(which)
    spec = spec or {}
    return as_int(spec.get("cpuM")), as_int(spec.get("memoryBytes"))


def pod_requests(pod: Resource) -> tuple[int, int]:
    """A pod's summed container requests."""
    total = [0, 0]
    for c in pod.attr("containers") or []:
        cpu_m, memory = requests(c)
        total[0] += cpu_m
        total[1] += memory
    return total[0], total[1]


def cpu_quantity(millicores: int) -> str:
    """A CPU quantity as kubectl writes it: '250m', '2'."""
    return str(millicores // 1000) if millicores % 1000 == 0 and millicores else f"{millicores}m"


def memory_quantity(value: int) -> str:
    """A memory quantity in whole MiB ('256Mi'), or GiB when exact ('2Gi')."""
    mib = math.ceil(value / MIB)
    return f"{mib // 1024}Gi" if mib % 1024 == 0 and mib else f"{mib}Mi"


def kubectl(verb: str, kind: str, name: str, namespace: str | None, *flags: str) -> str:
    """A kubectl command line with the (reported, so untrusted) names quoted for a shell."""
    where = f" -n {shlex.quote(namespace)}" if namespace else ""
    tail = "".join(f" {shlex.quote(f)}" for f in flags)
    return f"kubectl {verb} {kind.lower()} {shlex.quote(name)}{where}{tail}"


def _q(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(_PLACES)

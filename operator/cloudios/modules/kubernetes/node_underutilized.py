"""k8s.node.underutilized: nodes whose pods all fit on the other nodes; drain them and shrink the node group.

A schedulable node older than minNodeAgeHours is a candidate when both the CPU and the memory its
pods hold are at most maxUtilization of its allocatable. What a pod holds is the sum over its
containers of the request, or (sizeByUsage) the larger of the request and the container's observed
use (window p95 CPU, peak memory): a pod using more than it asks for needs that room on its new
node, so rightsizing increases cannot undo a drain.

Candidates are tried least-utilized first, one at a time, against the cluster as the earlier
removals left it: a drain simulation (first-fit decreasing, see drain.py) packs the candidate's
pods onto the remaining schedulable nodes, each filled to at most targetFill of its allocatable.
DaemonSet pods are not moved (they run on every node and go with it); a bare pod (no controller)
cannot be rescheduled and keeps its node. Only when every pod fits is the node removable; the
removal is then committed (its pods now sit, and hold room, on their new nodes, and move again if
that node goes too), so two findings never count on the same free room. A finding's utilization is
its node's after the earlier removals of the same scan.

Savings: the node's hourly list price x 730 (spot nodes are unpriced: no bundled spot prices).
Confidence is at most medium: scheduling constraints (selectors, affinities, taints, spread,
PodDisruptionBudgets) are not reported; low while the agent has reported for fewer than 7 days.
"""

from __future__ import annotations

import shlex
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Resource, Snapshot
from cloudios.domain import kubernetes as k8s
from cloudios.modules import confidence as conf
from cloudios.modules.base import Module, ModuleSpec
from cloudios.modules.kubernetes import _common as common
from cloudios.modules.kubernetes import drain

_ENDED = frozenset({"Succeeded", "Failed"})


class NodeUnderutilizedSettings(common.CamelSettings):
    """Thresholds of k8s.node.underutilized."""

    max_utilization: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A node is a candidate when CPU and memory held are both at most this fraction of its "
        "allocatable.",
    )
    target_fill: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Receiving nodes are filled to at most this fraction of their allocatable (Kubecost's "
        "development profile keeps a cluster under 80 %).",
    )
    size_by_usage: bool = Field(
        default=True,
        description="Size each container at the larger of its request and its observed use (window p95 CPU, "
        "peak memory).",
    )
    min_node_age_hours: int = Field(default=24, ge=0, description="Younger nodes are left to the autoscaler.")
    min_history_days: int = Field(
        default=3, ge=1, le=90, description="Days the agent must have reported before any node is proposed."
    )


SPEC = ModuleSpec(
    name="k8s.node.underutilized",
    provider=Provider.KUBERNETES,
    category=Category.RIGHTSIZE,
    summary="Nodes whose pods (by requests, DaemonSets excluded) all fit on the other nodes in a first-fit "
    "decreasing drain simulation; drain and remove them. Savings are the node's price; at most medium "
    "confidence (scheduling constraints are not reported).",
    resource_kinds=(k8s.K8S_NODE, k8s.K8S_POD, k8s.K8S_CONTAINER, k8s.K8S_CLUSTER),
    permissions=(common.NODES, common.PODS, common.CLAIMS, common.POD_METRICS),
    settings=NodeUnderutilizedSettings,
)


@dataclass
class _Load:
    """What one node's live pods hold, and which of them would have to move."""

    cpu_m: int = 0
    memory: int = 0
    movers: list[drain.Pod] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    daemons: int = 0


def evaluate(snapshot: Snapshot, settings: NodeUnderutilizedSettings) -> Sequence[Finding]:
    cluster = common.Cluster.of(snapshot)
    history = _history_days(cluster, snapshot)
    level = conf.for_days(history, settings.min_history_days)
    if level is None:
        return []
    nodes = {n: r for n, r in cluster.nodes.items() if _allocatable(r) is not None}
    loads = _loads(snapshot, cluster, settings)
    rooms = _rooms(nodes, loads, settings.target_fill)
    findings: list[Finding] = []
    removed: set[str] = set()
    for name in _candidates(snapshot, nodes, loads, settings):
        load, node = loads[name], nodes[name]
        targets = [rooms[n] for n in sorted(rooms) if n != name and n not in removed]
        # A candidate that took pods from an earlier removal may no longer be one.
        if load.stuck or not targets or _utilization(node, load) > settings.max_utilization:
            continue
        packing = drain.pack(load.movers, targets, arch=node.attr("arch"), scale=_allocatable(node) or (1, 1))
        if not packing.fits:
            continue
        removed.add(name)
        rooms.pop(name, None)
        for moved in load.movers:  # commit: the pods now sit on their new nodes (and move again with them)
            target = loads[packing.placements[moved.name]]
            target.cpu_m, target.memory = target.cpu_m + moved.cpu_m, target.memory + moved.memory
            target.movers.append(moved)
        findings.append(_finding(node, load, packing, conf.cap(level, Confidence.MEDIUM), history, settings))
    return findings


def _rooms(nodes: dict[str, Resource], loads: dict[str, _Load], fill: float) -> dict[str, drain.Room]:
    """The room each schedulable node has left: allocatable x fill minus what its pods hold."""
    rooms: dict[str, drain.Room] = {}
    for name, node in nodes.items():
        allocatable = _allocatable(node)
        if node.attr("unschedulable") or allocatable is None:
            continue
        load = loads[name]
        cpu_m, memory = allocatable[0] * fill - load.cpu_m, allocatable[1] * fill - load.memory
        rooms[name] = drain.Room(name, cpu_m, memory, node.attr("zone"), node.attr("arch"))
    return rooms


def _history_days(cluster: common.Cluster, snapshot: Snapshot) -> int:
    first = common.as_datetime(cluster.cluster.attr("firstReportAt")) if cluster.cluster else None
    return 0 if first is None else int((snapshot.collected_at - first).total_seconds() // 86400)


def _utilization(node: Resource, load: _Load) -> float:
    """The larger of the CPU and memory fractions of the node's allocatable its pods hold."""
    cpu, memory = _allocatable(node) or (1, 1)
    return max(load.cpu_m / cpu, load.memory / memory)


def _allocatable(node: Resource) -> tuple[int, int] | None:
    cpu_m, memory = (
        common.as_int(node.attr("cpuAllocatableM")),
        common.as_int(node.attr("memoryAllocatableBytes")),
    )
    return (cpu_m, memory) if cpu_m > 0 and memory > 0 else None


def _loads(
    snapshot: Snapshot, cluster: common.Cluster, settings: NodeUnderutilizedSettings
) -> dict[str, _Load]:
    usage = {
        (str(c.attr("workload")), str(c.attr("container"))): c for c in snapshot.of_kind(k8s.K8S_CONTAINER)
    }
    nodes = {r.id: r for r in cluster.nodes.values()}
    loads: dict[str, _Load] = defaultdict(_Load)
    for pod in snapshot.of_kind(k8s.K8S_POD):
        node_name = pod.attr("node")
        if not node_name or pod.attr("phase") in _ENDED:
            continue
        cpu_m = memory = 0
        for spec in pod.attr("containers") or []:
            held = common.requests(spec)
            observed = usage.get((str(pod.attr("workload")), str(spec.get("name"))))
            if settings.size_by_usage and observed is not None:
                held = _with_usage(held, observed)
            cpu_m, memory = cpu_m + held[0], memory + held[1]
        load = loads[str(node_name)]
        load.cpu_m, load.memory = load.cpu_m + cpu_m, load.memory + memory
        kind = pod.attr("workloadKind")
        if kind == "DaemonSet":
            load.daemons += 1
        elif kind == "Pod":
            load.stuck.append(pod.id)
        else:
            node = nodes.get(str(node_name))
            zone = node.attr("zone") if node is not None and pod.attr("claims") else None
            load.movers.append(drain.Pod(pod.id, cpu_m, memory, zone))
    return loads


def _with_usage(held: tuple[int, int], container: Resource) -> tuple[int, int]:
    cpu = float((container.attr("cpu") or {}).get("p95", 0.0))
    memory = float((container.attr("memory") or {}).get("max", 0.0))
    return max(held[0], int(cpu + 0.999)), max(held[1], int(memory))


def _candidates(
    snapshot: Snapshot,
    nodes: dict[str, Resource],
    loads: dict[str, _Load],
    settings: NodeUnderutilizedSettings,
) -> list[str]:
    """Schedulable, old enough and under maxUtilization on both resources; least utilized first."""
    found: list[tuple[float, str]] = []
    for name, node in nodes.items():
        created = common.as_datetime(node.attr("createdAt")) or node.created_at
        age_hours = (snapshot.collected_at - created).total_seconds() / 3600 if created else 0.0
        utilization = _utilization(node, loads[name])
        if node.attr("unschedulable") or age_hours < settings.min_node_age_hours:
            continue
        if utilization <= settings.max_utilization:
            found.append((utilization, name))
    return [name for _, name in sorted(found)]


def _finding(  # noqa: PLR0917 - the node, its simulation and the scan's settings
    node: Resource,
    load: _Load,
    packing: drain.Packing,
    level: Confidence,
    history: int,
    settings: NodeUnderutilizedSettings,
) -> Finding:
    cpu, memory = _allocatable(node) or (1, 1)
    return common.build_finding(
        SPEC,
        node,
        action=Action.DELETE,
        title=f"Drain and remove node {node.id} ({node.attr('instanceType') or 'unknown type'}): "
        + (
            f"its {len(packing.placements)} pod(s) fit on the other nodes"
            if packing.placements
            else "it runs only DaemonSet pods"
        ),
        confidence=level,
        current={
            "instanceType": node.attr("instanceType"),
            "capacityType": node.attr("capacityType"),
            "allocatable": {"cpu": common.cpu_quantity(cpu), "memory": common.memory_quantity(memory)},
            "held": {"cpu": common.cpu_quantity(load.cpu_m), "memory": common.memory_quantity(load.memory)},
        },
        proposed={
            "state": "drained and removed (scale its node group down by one)",
            "command": f"kubectl drain {shlex.quote(node.id)} --ignore-daemonsets --delete-emptydir-data",
        },
        evidence=common.evidence(
            settings,
            history,
            utilization={"cpu": round(load.cpu_m / cpu, 4), "memory": round(load.memory / memory, 4)},
            placements=packing.placements,
            daemonSetPods=load.daemons,
            note="Node selectors, affinities, taints, topology spread and PodDisruptionBudgets are not "
            "reported by the agent; check them before draining.",
        ),
        current_usage=[common.node_usage(node)],
    )


MODULE = Module(SPEC, evaluate)

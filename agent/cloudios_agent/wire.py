"""Versioned wire models: what the agent sends and what ingest accepts (the operator imports them).

One ``Report`` per POST to ``/v1/reports`` (JSON, camelCase keys, gzip). The cluster and the tenant
are never in the body: ingest takes them from the cluster token. ``(stream, sequence)`` numbers the
batch: ``stream`` is random per agent process start, ``sequence`` counts from 1 within it, so ingest
stores a replayed batch once. A report carries an ``inventory`` snapshot (what exists now: nodes,
workloads, pods, volumes, load balancers, namespaces), usage summaries, or both.

Privacy by construction: there is no field for Secret or ConfigMap data, env values, commands,
arguments, logs, annotations or managedFields; ``parse_report`` refuses any key not listed here.

Units: CPU in millicores, memory and storage in bytes, times RFC 3339 UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudios_agent.sketch import Sketch, SketchError
from cloudios_agent.wire_read import Reader, WireError, read_body

__all__ = ["WireError", "read_body"]

WIRE_VERSION = 1
PATH = "/v1/reports"
MAX_BODY_BYTES = 16 * 1024 * 1024
"""Largest compressed body ingest reads (a 10,000-pod inventory gzips to well under 2 MiB)."""
MAX_INFLATED_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 8
MAX_ITEMS = 50_000
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"})
CAPACITY_TYPES = frozenset({"on-demand", "spot"})
PERIODS = frozenset({"hour", "day"})
SOURCES = frozenset({"metrics-api", "prometheus"})
POD_PHASES = frozenset({"Pending", "Running", "Succeeded", "Failed", "Unknown"})
VOLUME_PHASES = frozenset({"Pending", "Available", "Bound", "Released", "Failed", "Lost"})


@dataclass(frozen=True)
class Resources:
    """Requests or limits, or a node's capacity; None where not set."""

    cpu_m: int | None = None
    memory_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return _drop_none({"cpuM": self.cpu_m, "memoryBytes": self.memory_bytes})

    @staticmethod
    def read(r: Reader) -> Resources:
        return Resources(r.integer("cpuM", required=False), r.integer("memoryBytes", required=False))


@dataclass(frozen=True)
class Node:
    name: str
    created_at: datetime
    capacity: Resources
    allocatable: Resources
    instance_type: str | None = None
    region: str | None = None
    zone: str | None = None
    provider_id: str | None = None
    capacity_type: str | None = None
    arch: str | None = None
    unschedulable: bool = False


@dataclass(frozen=True)
class Hpa:
    min_replicas: int
    max_replicas: int
    metrics: tuple[str, ...] = ()
    """Resource metrics it scales on (``cpu``, ``memory``); ``other`` for custom/external ones."""


@dataclass(frozen=True)
class Workload:
    namespace: str
    kind: str
    name: str
    created_at: datetime
    replicas: int | None = None
    hpa: Hpa | None = None


@dataclass(frozen=True)
class Container:
    name: str
    requests: Resources
    limits: Resources
    restarts: int = 0
    last_oom_killed_at: datetime | None = None
    """When this container was last OOMKilled (lastState.terminated.reason), if ever seen."""


@dataclass(frozen=True)
class Pod:
    namespace: str
    name: str
    workload_kind: str
    workload_name: str
    phase: str
    containers: tuple[Container, ...]
    node: str | None = None
    started_at: datetime | None = None
    claims: tuple[str, ...] = ()
    """Names of the PersistentVolumeClaims (same namespace) the pod mounts."""


@dataclass(frozen=True)
class Claim:
    namespace: str
    name: str
    phase: str
    created_at: datetime
    requested_bytes: int | None = None
    storage_class: str | None = None
    volume: str | None = None


@dataclass(frozen=True)
class Volume:
    name: str
    phase: str
    created_at: datetime
    capacity_bytes: int | None = None
    storage_class: str | None = None
    claim: str | None = None
    """``namespace/name`` of the bound claim."""
    csi_driver: str | None = None
    volume_handle: str | None = None
    """The cloud disk id (e.g. ``vol-...``) where the CSI driver exposes it, to price the disk."""


@dataclass(frozen=True)
class LoadBalancer:
    namespace: str
    name: str
    created_at: datetime
    ready_endpoints: int


@dataclass(frozen=True)
class Namespace:
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Inventory:
    taken_at: datetime
    nodes: tuple[Node, ...] = ()
    workloads: tuple[Workload, ...] = ()
    pods: tuple[Pod, ...] = ()
    claims: tuple[Claim, ...] = ()
    volumes: tuple[Volume, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()
    namespaces: tuple[Namespace, ...] = ()


@dataclass(frozen=True)
class Summary:
    """Samples of one quantity (CPU millicores or memory bytes) over one period."""

    samples: int
    avg: float
    max: float
    p95: float
    p99: float
    sketch: Sketch = field(compare=False)

    @staticmethod
    def of(sketch: Sketch) -> Summary:
        return Summary(
            sketch.count,
            sketch.mean or 0.0,
            sketch.max,
            sketch.quantile(0.95) or 0.0,
            sketch.quantile(0.99) or 0.0,
            sketch,
        )


@dataclass(frozen=True)
class ContainerUsage:
    namespace: str
    workload_kind: str
    workload_name: str
    container: str
    period: str
    start: datetime
    source: str
    cpu: Summary
    memory: Summary


@dataclass(frozen=True)
class Report:
    stream: str
    sequence: int
    sent_at: datetime
    agent_version: str
    inventory: Inventory | None = None
    usage: tuple[ContainerUsage, ...] = ()
    dropped_batches: int = 0
    """Batches the agent's queue dropped (oldest first) since it started, because ingest was down."""


def encode_report(report: Report) -> bytes:
    """The report as compact UTF-8 JSON (the agent gzips it)."""
    return json.dumps(_report_json(report), separators=(",", ":"), ensure_ascii=False).encode()


def parse_report(data: object) -> Report:
    """Validate a decoded JSON body strictly; ``WireError`` names the first bad field."""
    r = Reader(data, "")
    version = r.integer("version")
    if version != WIRE_VERSION:
        raise WireError(
            "version", f"wire version {version} is not supported (this ingest speaks {WIRE_VERSION})"
        )
    stream = r.text("stream", max_len=64)
    if not stream or not all(c in "0123456789abcdef" for c in stream):
        raise WireError("stream", "must be lowercase hex")
    report = Report(
        stream=stream,
        sequence=r.integer("sequence", low=1),
        sent_at=r.time("sentAt"),
        agent_version=r.text("agentVersion", max_len=64),
        inventory=r.obj("inventory", _read_inventory, required=False),
        usage=r.items("usage", _read_usage, max_items=MAX_ITEMS),
        dropped_batches=r.integer("droppedBatches", required=False) or 0,
    )
    r.done()
    return report


def _read_inventory(r: Reader) -> Inventory:
    return Inventory(
        taken_at=r.time("takenAt"),
        nodes=r.items("nodes", _read_node, max_items=MAX_ITEMS),
        workloads=r.items("workloads", _read_workload, max_items=MAX_ITEMS),
        pods=r.items("pods", _read_pod, max_items=MAX_ITEMS),
        claims=r.items("claims", _read_claim, max_items=MAX_ITEMS),
        volumes=r.items("volumes", _read_volume, max_items=MAX_ITEMS),
        load_balancers=r.items("loadBalancers", _read_lb, max_items=MAX_ITEMS),
        namespaces=r.items("namespaces", _read_namespace, max_items=MAX_ITEMS),
    )


def _resources(r: Reader, key: str) -> Resources:
    return r.obj(key, Resources.read, required=False) or Resources()


def _read_node(r: Reader) -> Node:
    return Node(
        name=r.text("name"),
        created_at=r.time("createdAt"),
        capacity=_resources(r, "capacity"),
        allocatable=_resources(r, "allocatable"),
        instance_type=r.text("instanceType", required=False, max_len=63),
        region=r.text("region", required=False, max_len=63),
        zone=r.text("zone", required=False, max_len=63),
        provider_id=r.text("providerId", required=False, max_len=512),
        capacity_type=r.choice("capacityType", CAPACITY_TYPES, required=False),
        arch=r.text("arch", required=False, max_len=32),
        unschedulable=r.flag("unschedulable"),
    )


def _read_hpa(r: Reader) -> Hpa:
    metrics = r.strings("metrics", max_items=16, max_len=16)
    if set(metrics) - {"cpu", "memory", "other"}:
        raise WireError("hpa.metrics", "items must be cpu, memory or other")
    return Hpa(r.integer("minReplicas", high=100_000), r.integer("maxReplicas", high=100_000), metrics)


def _read_workload(r: Reader) -> Workload:
    return Workload(
        namespace=r.text("namespace", max_len=63),
        kind=r.choice("kind", WORKLOAD_KINDS),
        name=r.text("name"),
        created_at=r.time("createdAt"),
        replicas=r.integer("replicas", required=False, high=100_000),
        hpa=r.obj("hpa", _read_hpa, required=False),
    )


def _read_container(r: Reader) -> Container:
    return Container(
        name=r.text("name", max_len=63),
        requests=_resources(r, "requests"),
        limits=_resources(r, "limits"),
        restarts=r.integer("restarts", required=False) or 0,
        last_oom_killed_at=r.time("lastOomKilledAt", required=False),
    )


def _read_pod(r: Reader) -> Pod:
    return Pod(
        namespace=r.text("namespace", max_len=63),
        name=r.text("name"),
        workload_kind=r.choice("workloadKind", WORKLOAD_KINDS),
        workload_name=r.text("workloadName"),
        phase=r.choice("phase", POD_PHASES),
        containers=r.items("containers", _read_container, max_items=64),
        node=r.text("node", required=False),
        started_at=r.time("startedAt", required=False),
        claims=r.strings("claims", max_items=64),
    )


def _read_claim(r: Reader) -> Claim:
    return Claim(
        namespace=r.text("namespace", max_len=63),
        name=r.text("name"),
        phase=r.choice("phase", VOLUME_PHASES | {"Lost"}),
        created_at=r.time("createdAt"),
        requested_bytes=r.integer("requestedBytes", required=False),
        storage_class=r.text("storageClass", required=False),
        volume=r.text("volume", required=False),
    )


def _read_volume(r: Reader) -> Volume:
    return Volume(
        name=r.text("name"),
        phase=r.choice("phase", VOLUME_PHASES),
        created_at=r.time("createdAt"),
        capacity_bytes=r.integer("capacityBytes", required=False),
        storage_class=r.text("storageClass", required=False),
        claim=r.text("claim", required=False, max_len=317),
        csi_driver=r.text("csiDriver", required=False),
        volume_handle=r.text("volumeHandle", required=False, max_len=512),
    )


def _read_lb(r: Reader) -> LoadBalancer:
    return LoadBalancer(
        namespace=r.text("namespace", max_len=63),
        name=r.text("name"),
        created_at=r.time("createdAt"),
        ready_endpoints=r.integer("readyEndpoints", high=1_000_000),
    )


def _read_namespace(r: Reader) -> Namespace:
    return Namespace(name=r.text("name", max_len=63), created_at=r.time("createdAt"))


def _read_summary(r: Reader) -> Summary:
    samples = r.integer("samples", low=1)
    avg, peak = r.number("avg"), r.number("max")
    try:
        sketch = Sketch.from_wire(r.raw("sketch"), count=samples, total=avg * samples, peak=peak)
    except SketchError as exc:
        raise WireError(r.at("sketch"), str(exc)) from None
    return Summary(samples, avg, peak, r.number("p95"), r.number("p99"), sketch)


def _read_usage(r: Reader) -> ContainerUsage:
    return ContainerUsage(
        namespace=r.text("namespace", max_len=63),
        workload_kind=r.choice("workloadKind", WORKLOAD_KINDS),
        workload_name=r.text("workloadName"),
        container=r.text("container", max_len=63),
        period=r.choice("period", PERIODS),
        start=r.time("start"),
        source=r.choice("source", SOURCES),
        cpu=r.obj("cpu", _read_summary) or _never(),
        memory=r.obj("memory", _read_summary) or _never(),
    )


def _never() -> Summary:  # pragma: no cover - r.obj(required=True) raises first
    raise WireError("", "missing summary")


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != () and v is not False}


def _time(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat().replace("+00:00", "Z")


def _summary_json(s: Summary) -> dict[str, Any]:
    return {
        "samples": s.samples,
        "avg": s.avg,
        "max": s.max,
        "p95": s.p95,
        "p99": s.p99,
        "sketch": s.sketch.to_wire(),
    }


def _report_json(rep: Report) -> dict[str, Any]:
    inv = rep.inventory
    body: dict[str, Any] = {
        "version": WIRE_VERSION,
        "stream": rep.stream,
        "sequence": rep.sequence,
        "sentAt": _time(rep.sent_at),
        "agentVersion": rep.agent_version,
        "droppedBatches": rep.dropped_batches or None,
    }
    if inv is not None:
        body["inventory"] = _drop_none(
            {
                "takenAt": _time(inv.taken_at),
                "nodes": [_node_json(n) for n in inv.nodes],
                "workloads": [_workload_json(w) for w in inv.workloads],
                "pods": [_pod_json(p) for p in inv.pods],
                "claims": [_claim_json(c) for c in inv.claims],
                "volumes": [_volume_json(v) for v in inv.volumes],
                "loadBalancers": [_lb_json(lb) for lb in inv.load_balancers],
                "namespaces": [{"name": n.name, "createdAt": _time(n.created_at)} for n in inv.namespaces],
            }
        )
    if rep.usage:
        body["usage"] = [_usage_json(u) for u in rep.usage]
    return _drop_none(body)


def _node_json(n: Node) -> dict[str, Any]:
    return _drop_none(
        {
            "name": n.name,
            "createdAt": _time(n.created_at),
            "capacity": n.capacity.to_json(),
            "allocatable": n.allocatable.to_json(),
            "instanceType": n.instance_type,
            "region": n.region,
            "zone": n.zone,
            "providerId": n.provider_id,
            "capacityType": n.capacity_type,
            "arch": n.arch,
            "unschedulable": n.unschedulable,
        }
    )


def _workload_json(w: Workload) -> dict[str, Any]:
    hpa = (
        None
        if w.hpa is None
        else _drop_none(
            {
                "minReplicas": w.hpa.min_replicas,
                "maxReplicas": w.hpa.max_replicas,
                "metrics": list(w.hpa.metrics),
            }
        )
    )
    return _drop_none(
        {
            "namespace": w.namespace,
            "kind": w.kind,
            "name": w.name,
            "createdAt": _time(w.created_at),
            "replicas": w.replicas,
            "hpa": hpa,
        }
    )


def _pod_json(p: Pod) -> dict[str, Any]:
    containers = [
        _drop_none(
            {
                "name": c.name,
                "requests": c.requests.to_json() or None,
                "limits": c.limits.to_json() or None,
                "restarts": c.restarts or None,
                "lastOomKilledAt": _time(c.last_oom_killed_at),
            }
        )
        for c in p.containers
    ]
    return _drop_none(
        {
            "namespace": p.namespace,
            "name": p.name,
            "workloadKind": p.workload_kind,
            "workloadName": p.workload_name,
            "phase": p.phase,
            "containers": containers,
            "node": p.node,
            "startedAt": _time(p.started_at),
            "claims": list(p.claims),
        }
    )


def _claim_json(c: Claim) -> dict[str, Any]:
    return _drop_none(
        {
            "namespace": c.namespace,
            "name": c.name,
            "phase": c.phase,
            "createdAt": _time(c.created_at),
            "requestedBytes": c.requested_bytes,
            "storageClass": c.storage_class,
            "volume": c.volume,
        }
    )


def _volume_json(v: Volume) -> dict[str, Any]:
    return _drop_none(
        {
            "name": v.name,
            "phase": v.phase,
            "createdAt": _time(v.created_at),
            "capacityBytes": v.capacity_bytes,
            "storageClass": v.storage_class,
            "claim": v.claim,
            "csiDriver": v.csi_driver,
            "volumeHandle": v.volume_handle,
        }
    )


def _lb_json(lb: LoadBalancer) -> dict[str, Any]:
    return {
        "namespace": lb.namespace,
        "name": lb.name,
        "createdAt": _time(lb.created_at),
        "readyEndpoints": lb.ready_endpoints,
    }


def _usage_json(u: ContainerUsage) -> dict[str, Any]:
    return {
        "namespace": u.namespace,
        "workloadKind": u.workload_kind,
        "workloadName": u.workload_name,
        "container": u.container,
        "period": u.period,
        "start": _time(u.start),
        "source": u.source,
        "cpu": _summary_json(u.cpu),
        "memory": _summary_json(u.memory),
    }

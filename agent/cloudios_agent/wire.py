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
from datetime import datetime
from typing import Any

from cloudios_agent.sketch import Sketch, SketchError
from cloudios_agent.wire_models import (
    Claim,
    Container,
    ContainerUsage,
    Hpa,
    Inventory,
    LoadBalancer,
    Namespace,
    Node,
    Pod,
    Report,
    Resources,
    Summary,
    Volume,
    Workload,
    drop_empty,
)
from cloudios_agent.wire_read import Reader, WireError, read_body

__all__ = [
    "Claim",
    "Container",
    "ContainerUsage",
    "Hpa",
    "Inventory",
    "LoadBalancer",
    "Namespace",
    "Node",
    "Pod",
    "Report",
    "Resources",
    "Summary",
    "Volume",
    "WireError",
    "Workload",
    "encode_report",
    "parse_report",
    "read_body",
]

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
        body["inventory"] = drop_empty(
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
    return drop_empty(body)


def _node_json(n: Node) -> dict[str, Any]:
    return drop_empty(
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
        else drop_empty(
            {
                "minReplicas": w.hpa.min_replicas,
                "maxReplicas": w.hpa.max_replicas,
                "metrics": list(w.hpa.metrics),
            }
        )
    )
    return drop_empty(
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
        drop_empty(
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
    return drop_empty(
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
    return drop_empty(
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
    return drop_empty(
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

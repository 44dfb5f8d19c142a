"""Projections: the few fields the agent keeps from each Kubernetes object, read the moment it is decoded.

This is the privacy filter. Each function names every field it reads; nothing else of an object
(env, command, args, annotations, other labels, managedFields, Secret or ConfigMap data) is ever
copied, so nothing else can reach a payload. A malformed field becomes "unknown", never an error
that would stop the watch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudios_agent import quantity, wire

INSTANCE_TYPE = "node.kubernetes.io/instance-type"
REGION = "topology.kubernetes.io/region"
ZONE = "topology.kubernetes.io/zone"
ARCH = "kubernetes.io/arch"
SERVICE_NAME = "kubernetes.io/service-name"
# Capacity-type labels of Karpenter, EKS, GKE and AKS: (label, value meaning spot, value meaning on-demand).
CAPACITY_LABELS = (
    ("karpenter.sh/capacity-type", "spot", "on-demand"),
    ("eks.amazonaws.com/capacityType", "SPOT", "ON_DEMAND"),
    ("cloud.google.com/gke-spot", "true", None),
    ("cloud.google.com/gke-preemptible", "true", None),
    ("kubernetes.azure.com/scalesetpriority", "spot", "regular"),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Owned:
    """A pod's or workload's own identity plus its controller (the owner reference marked controller)."""

    namespace: str
    name: str
    owner_kind: str | None
    owner_name: str | None


@dataclass(frozen=True, slots=True)
class PodRecord:
    ident: Owned
    phase: str
    containers: tuple[wire.Container, ...]
    node: str | None
    started_at: datetime | None
    claims: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WorkloadRecord:
    ident: Owned
    kind: str
    created_at: datetime
    replicas: int | None


@dataclass(frozen=True, slots=True)
class HpaRecord:
    namespace: str
    target_kind: str
    target_name: str
    hpa: wire.Hpa


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    namespace: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SliceRecord:
    namespace: str
    service: str
    ready: int


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return _dict(obj.get("metadata"))


def _str(value: object) -> str | None:
    return sys.intern(value) if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _owned(meta: dict[str, Any]) -> Owned:
    owner_kind = owner_name = None
    for ref in meta.get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            owner_kind, owner_name = _str(ref.get("kind")), _str(ref.get("name"))
            break
    return Owned(_str(meta.get("namespace")) or "", str(meta.get("name") or ""), owner_kind, owner_name)


def _resources(block: object) -> wire.Resources:
    if not isinstance(block, dict):
        return wire.Resources()
    return wire.Resources(
        quantity.maybe(quantity.millicores_ceil, block.get("cpu")),
        quantity.maybe(quantity.bytes_ceil, block.get("memory")),
    )


def _container(spec: dict[str, Any], status: dict[str, Any] | None) -> wire.Container:
    resources = _dict(spec.get("resources"))
    restarts, oom = 0, None
    if status is not None:
        restarts = _int(status.get("restartCount")) or 0
        for state_key in ("state", "lastState"):
            terminated = (status.get(state_key) or {}).get("terminated") or {}
            if terminated.get("reason") == "OOMKilled":
                when = _time(terminated.get("finishedAt"))
                if when is not None and (oom is None or when > oom):
                    oom = when
    return wire.Container(
        name=_str(spec.get("name")) or "",
        requests=_resources(resources.get("requests")),
        limits=_resources(resources.get("limits")),
        restarts=restarts,
        last_oom_killed_at=oom,
    )


def pod(obj: dict[str, Any]) -> PodRecord:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    statuses = {
        s.get("name"): s
        for key in ("containerStatuses", "initContainerStatuses")
        for s in status.get(key) or ()
        if isinstance(s, dict)
    }
    specs = [c for c in spec.get("containers") or () if isinstance(c, dict)]
    # Native sidecars (init containers that keep running) use resources like any container.
    specs += [
        c
        for c in spec.get("initContainers") or ()
        if isinstance(c, dict) and c.get("restartPolicy") == "Always"
    ]
    claims = tuple(
        str(v["persistentVolumeClaim"].get("claimName"))
        for v in spec.get("volumes") or ()
        if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)
    )
    phase = status.get("phase")
    return PodRecord(
        ident=_owned(_meta(obj)),
        phase=phase if phase in wire.POD_PHASES else "Pending" if phase is None else "Unknown",
        containers=tuple(_container(c, statuses.get(c.get("name"))) for c in specs),
        node=_str(spec.get("nodeName")),
        started_at=_time(status.get("startTime")),
        claims=claims,
    )


def workload(kind: str) -> Any:
    """The projection of one workload kind (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)."""

    def project(obj: dict[str, Any]) -> WorkloadRecord:
        meta = _meta(obj)
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if kind == "DaemonSet":
            replicas = _int(status.get("desiredNumberScheduled"))
        elif kind == "Job":
            replicas = _int(spec.get("parallelism"))
        elif kind == "CronJob":
            replicas = None
        else:
            replicas = _int(spec.get("replicas"))
            replicas = 1 if replicas is None else replicas
        return WorkloadRecord(_owned(meta), kind, _time(meta.get("creationTimestamp")) or EPOCH, replicas)

    return project


def hpa(obj: dict[str, Any]) -> HpaRecord | None:
    spec = obj.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    metrics: list[str] = []
    for metric in spec.get("metrics") or ():
        kind = metric.get("type") if isinstance(metric, dict) else None
        block = metric.get("resource" if kind == "Resource" else "containerResource") if kind else None
        name = (
            block.get("name")
            if kind in {"Resource", "ContainerResource"} and isinstance(block, dict)
            else None
        )
        label = name if name in {"cpu", "memory"} else "other"
        if label not in metrics:
            metrics.append(label)
    if not spec.get("metrics"):
        metrics = ["cpu"]  # autoscaling/v2 default: 80 % average CPU utilization
    max_replicas = _int(spec.get("maxReplicas"))
    if not target.get("kind") or not target.get("name") or max_replicas is None:
        return None
    min_replicas = _int(spec.get("minReplicas"))
    return HpaRecord(
        _str(_meta(obj).get("namespace")) or "",
        str(target["kind"]),
        str(target["name"]),
        wire.Hpa(1 if min_replicas is None else min_replicas, max_replicas, tuple(metrics)),
    )


def _capacity_type(labels: dict[str, Any]) -> str | None:
    for label, spot, on_demand in CAPACITY_LABELS:
        value = labels.get(label)
        if value is None:
            continue
        if str(value) == spot:
            return "spot"
        if on_demand is not None and str(value) == on_demand:
            return "on-demand"
    return None


def node(obj: dict[str, Any]) -> wire.Node:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    labels = _dict(meta.get("labels"))
    return wire.Node(
        name=str(meta.get("name") or ""),
        created_at=_time(meta.get("creationTimestamp")) or EPOCH,
        capacity=_resources(status.get("capacity")),
        allocatable=_resources(status.get("allocatable")),
        instance_type=_str(labels.get(INSTANCE_TYPE)),
        region=_str(labels.get(REGION)),
        zone=_str(labels.get(ZONE)),
        provider_id=_str(spec.get("providerID")),
        capacity_type=_capacity_type(labels),
        arch=_str(labels.get(ARCH)),
        unschedulable=spec.get("unschedulable") is True,
    )


def _storage(block: object) -> int | None:
    return quantity.maybe(quantity.bytes_ceil, block.get("storage")) if isinstance(block, dict) else None


def volume(obj: dict[str, Any]) -> wire.Volume:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    claim = spec.get("claimRef") or {}
    csi = _dict(spec.get("csi"))
    handle = csi.get("volumeHandle") or (spec.get("awsElasticBlockStore") or {}).get("volumeID")
    phase = status.get("phase")
    return wire.Volume(
        name=str(meta.get("name") or ""),
        phase=phase if phase in wire.VOLUME_PHASES else "Pending",
        created_at=_time(meta.get("creationTimestamp")) or EPOCH,
        capacity_bytes=_storage(spec.get("capacity")),
        storage_class=_str(spec.get("storageClassName")),
        claim=f"{claim.get('namespace')}/{claim.get('name')}" if claim.get("name") else None,
        csi_driver=_str(csi.get("driver")),
        volume_handle=str(handle) if handle else None,
    )


def claim(obj: dict[str, Any]) -> wire.Claim:
    meta, spec, status = _meta(obj), obj.get("spec") or {}, obj.get("status") or {}
    phase = status.get("phase")
    return wire.Claim(
        namespace=_str(meta.get("namespace")) or "",
        name=str(meta.get("name") or ""),
        phase=phase if phase in wire.VOLUME_PHASES else "Pending",
        created_at=_time(meta.get("creationTimestamp")) or EPOCH,
        requested_bytes=_storage((spec.get("resources") or {}).get("requests")),
        storage_class=_str(spec.get("storageClassName")),
        volume=_str(spec.get("volumeName")),
    )


def load_balancer(obj: dict[str, Any]) -> ServiceRecord | None:
    if (obj.get("spec") or {}).get("type") != "LoadBalancer":
        return None
    meta = _meta(obj)
    return ServiceRecord(
        _str(meta.get("namespace")) or "",
        str(meta.get("name") or ""),
        _time(meta.get("creationTimestamp")) or EPOCH,
    )


def endpoint_slice(obj: dict[str, Any]) -> SliceRecord | None:
    meta = _meta(obj)
    labels = _dict(meta.get("labels"))
    service = labels.get(SERVICE_NAME)
    if not isinstance(service, str):
        return None
    # A missing `ready` condition means unknown, which consumers are told to read as ready.
    ready = sum(
        1
        for endpoint in obj.get("endpoints") or ()
        if isinstance(endpoint, dict) and (endpoint.get("conditions") or {}).get("ready") is not False
    )
    return SliceRecord(_str(meta.get("namespace")) or "", service, ready)


def namespace(obj: dict[str, Any]) -> wire.Namespace:
    meta = _meta(obj)
    return wire.Namespace(str(meta.get("name") or ""), _time(meta.get("creationTimestamp")) or EPOCH)

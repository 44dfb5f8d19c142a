"""The wire models (dataclasses); ``cloudios_agent.wire`` reads and writes them. See its docstring."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudios_agent.sketch import Sketch
from cloudios_agent.wire_read import Reader


def drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` without None, empty tuples and False (the wire omits defaults)."""
    return {k: v for k, v in d.items() if v is not None and v != () and v is not False}


@dataclass(frozen=True)
class Resources:
    """Requests or limits, or a node's capacity; None where not set."""

    cpu_m: int | None = None
    memory_bytes: int | None = None

    def to_json(self) -> dict[str, Any]:
        return drop_empty({"cpuM": self.cpu_m, "memoryBytes": self.memory_bytes})

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

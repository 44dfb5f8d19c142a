"""Container sizing for k8s.workload.rightsize: requests from usage, limits kept safe, a kubectl patch.

Pure arithmetic over one container's window statistics (``domain.kubernetes.K8S_CONTAINER``); the
rules are stated in the module's docstring.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from cloudios.domain import Resource
from cloudios.modules.kubernetes import _common as common

Direction = Literal["increase", "decrease"]
CPU_STEP_M = 5  # proposals are rounded up to 5 millicores and whole MiB


class SizingSettings(Protocol):
    """The settings sizing reads (k8s.workload.rightsize's)."""

    @property
    def cpu_percentile(self) -> int: ...
    @property
    def cpu_headroom(self) -> float: ...
    @property
    def memory_headroom(self) -> float: ...
    @property
    def oom_bump(self) -> float: ...
    @property
    def min_cpu_millicores(self) -> int: ...
    @property
    def min_memory_mib(self) -> int: ...
    @property
    def min_change_ratio(self) -> float: ...
    @property
    def min_cpu_change_millicores(self) -> int: ...
    @property
    def min_memory_change_mib(self) -> int: ...


@dataclass
class Sizing:
    """One container: its current and proposed requests and limits, what changes, and why."""

    name: str
    requests: tuple[int, int]
    limits: tuple[int, int]
    proposed_requests: tuple[int, int]
    proposed_limits: tuple[int, int]
    cpu: Direction | None
    memory: Direction | None
    notes: list[str] = field(default_factory=list)
    basis: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return self.cpu is not None or self.memory is not None

    def directions(self) -> set[Direction]:
        return {d for d in (self.cpu, self.memory) if d is not None}


def size(
    container: Resource, settings: SizingSettings, *, window_start: datetime, hpa_metrics: set[str]
) -> Sizing:
    """The proposal for one container with usage statistics (see the module's rules)."""
    cpu_stats: dict[str, Any] = container.attr("cpu") or {}
    memory_stats: dict[str, Any] = container.attr("memory") or {}
    requests, limits = common.requests(container), common.requests(container, "limits")
    notes: list[str] = []

    cpu_used = float(cpu_stats.get(f"p{settings.cpu_percentile}", 0.0))
    cpu_target = max(
        settings.min_cpu_millicores, _round_up(cpu_used * (1 + settings.cpu_headroom), CPU_STEP_M)
    )
    peak = float(memory_stats.get("max", 0.0))
    memory_target = max(
        settings.min_memory_mib * common.MIB, _round_up(peak * (1 + settings.memory_headroom), common.MIB)
    )
    oom_at = common.as_datetime(container.attr("lastOomKilledAt"))
    if oom_at is not None and oom_at >= window_start:
        killed_at = limits[1] or requests[1] or int(peak)
        floor = _round_up(killed_at * settings.oom_bump, common.MIB)
        memory_target = max(memory_target, floor, requests[1])
        notes.append(
            f"OOMKilled at {oom_at.isoformat()}: memory is never lowered and stays at least "
            f"{settings.oom_bump} x the limit it was killed at"
        )

    cpu = _direction(requests[0], cpu_target, settings.min_change_ratio, settings.min_cpu_change_millicores)
    memory = _direction(
        requests[1], memory_target, settings.min_change_ratio, settings.min_memory_change_mib * common.MIB
    )
    if "cpu" in hpa_metrics and cpu is not None:
        cpu, cpu_target = None, requests[0]
        notes.append(
            "an HPA scales this workload on CPU utilization (relative to the request): CPU is left as is"
        )
    if "memory" in hpa_metrics and memory is not None:
        memory, memory_target = None, requests[1]
        notes.append("an HPA scales this workload on memory utilization: memory is left as is")
    proposed = (cpu_target if cpu else requests[0], memory_target if memory else requests[1])
    return Sizing(
        name=str(container.attr("container")),
        requests=requests,
        limits=limits,
        proposed_requests=proposed,
        # Limits never go down (that saves nothing, risks OOM kills); they rise to stay >= the request.
        proposed_limits=(_limit(limits[0], proposed[0]), _limit(limits[1], proposed[1])),
        cpu=cpu,
        memory=memory,
        notes=notes,
        basis={
            "cpuPercentileMillicores": round(cpu_used, 3),
            "cpuPercentile": settings.cpu_percentile,
            "memoryPeakBytes": int(peak),
            "cpuSamples": int(cpu_stats.get("samples", 0)),
            "memorySamples": int(memory_stats.get("samples", 0)),
            "lastOomKilledAt": container.attr("lastOomKilledAt"),
        },
    )


def _direction(current: int, proposed: int, ratio: float, minimum: int) -> Direction | None:
    """increase/decrease when the change clears both dead-bands (relative and absolute), else None."""
    delta = proposed - current
    if abs(delta) < minimum or (current and abs(delta) < ratio * current):
        return None
    return "increase" if delta > 0 else "decrease"


def _limit(current: int, request: int) -> int:
    return max(current, request) if current else 0


def _round_up(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def shown(pair: tuple[int, int]) -> dict[str, str]:
    """Requests or limits as kubectl quantities (unset ones left out)."""
    cpu_m, memory = pair
    return {
        **({"cpu": common.cpu_quantity(cpu_m)} if cpu_m else {}),
        **({"memory": common.memory_quantity(memory)} if memory else {}),
    }


_TEMPLATE_PATH = {"CronJob": ("spec", "jobTemplate", "spec", "template", "spec")}
_DEFAULT_PATH = ("spec", "template", "spec")


def patch(kind: str, namespace: str, name: str, sizings: list[Sizing]) -> tuple[dict[str, Any], str]:
    """A strategic merge patch of the changed containers' resources, and the kubectl command applying it."""
    containers = []
    for s in sizings:
        resources: dict[str, Any] = {}
        requests = {
            **({"cpu": common.cpu_quantity(s.proposed_requests[0])} if s.cpu else {}),
            **({"memory": common.memory_quantity(s.proposed_requests[1])} if s.memory else {}),
        }
        if requests:
            resources["requests"] = requests
        limits = {
            key: quantity(new)
            for key, old, new, quantity in (
                ("cpu", s.limits[0], s.proposed_limits[0], common.cpu_quantity),
                ("memory", s.limits[1], s.proposed_limits[1], common.memory_quantity),
            )
            if new != old
        }
        if limits:
            resources["limits"] = limits
        containers.append({"name": s.name, "resources": resources})
    body: dict[str, Any] = {"containers": containers}
    for key in reversed(_TEMPLATE_PATH.get(kind, _DEFAULT_PATH)):
        body = {key: body}
    text = json.dumps(body, separators=(",", ":"))
    return body, common.kubectl("patch", kind, name, namespace, "--type=strategic", "-p", text)

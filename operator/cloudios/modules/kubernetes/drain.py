"""The drain simulation of k8s.node.underutilized: can a node's pods be packed onto the other nodes?

First-fit decreasing by requests: the pods to move, largest first (by the larger of their CPU and
memory share of the node), each onto the first node (in name order) with room for both its CPU and
its memory. Room is a node's allocatable x the fill ceiling minus what its pods already hold. A pod
that mounts claims moves only within its zone (zonal disks); pods move only to nodes of the same
architecture when both are known. Nothing here knows node selectors, affinities, taints, topology
spread or PodDisruptionBudgets: the agent does not report them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pod:
    """A pod to move: what it holds (millicores, bytes) and where it may go."""

    name: str
    cpu_m: int
    memory: int
    zone: str | None = None
    """Set when the pod mounts claims: it may move only to a node of this zone."""


@dataclass
class Room:
    """What a node can still take."""

    name: str
    cpu_m: float
    memory: float
    zone: str | None
    arch: str | None

    def takes(self, pod: Pod, arch: str | None) -> bool:
        return (
            pod.cpu_m <= self.cpu_m
            and pod.memory <= self.memory
            and (pod.zone is None or pod.zone == self.zone)
            and (arch is None or self.arch is None or arch == self.arch)
        )


@dataclass(frozen=True)
class Packing:
    """Where each pod went, or the first pod that fit nowhere."""

    placements: dict[str, str]
    unplaced: Pod | None = None

    @property
    def fits(self) -> bool:
        return self.unplaced is None


def pack(pods: list[Pod], rooms: list[Room], *, arch: str | None, scale: tuple[float, float]) -> Packing:
    """Place ``pods`` into ``rooms`` (mutated only when every pod fits); ``scale`` normalizes sizes."""
    cpu_scale, memory_scale = (max(s, 1.0) for s in scale)
    order = sorted(pods, key=lambda p: (-max(p.cpu_m / cpu_scale, p.memory / memory_scale), p.name))
    left = {r.name: (r.cpu_m, r.memory) for r in rooms}
    placements: dict[str, str] = {}
    for pod in order:
        for room in rooms:
            cpu_m, memory = left[room.name]
            trial = Room(room.name, cpu_m, memory, room.zone, room.arch)
            if trial.takes(pod, arch):
                left[room.name] = (cpu_m - pod.cpu_m, memory - pod.memory)
                placements[pod.name] = room.name
                break
        else:
            return Packing(placements, unplaced=pod)
    for room in rooms:
        room.cpu_m, room.memory = left[room.name]
    return Packing(placements)

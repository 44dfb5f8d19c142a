"""Compute Engine machine types by name: predefined shapes and custom types, and smaller fits.

Names follow Google's scheme: ``<family>-<class>-<vCPUs>`` (e2-standard-4, n2-highmem-8) and
``[<family>-]custom-<vCPUs>-<MiB>[-ext]`` (no family prefix means N1). Memory per vCPU by class:
standard 4 GB (N1 3.75), highmem 8 GB (N1 6.5), highcpu 1 GB (N1 0.9). Shared-core types
(e2-micro/small/medium, f1-micro, g1-small) burst and are never resized here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

SIZES: dict[str, tuple[int, ...]] = {
    "e2": (2, 4, 8, 16, 32),
    "n1": (1, 2, 4, 8, 16, 32, 64, 96),
    "n2": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128),
    "n2d": (2, 4, 8, 16, 32, 48, 64, 80, 96, 128, 224),
    "n4": (2, 4, 8, 16, 32, 48, 64, 80),
    "c2": (4, 8, 16, 30, 60),
    "c2d": (2, 4, 8, 16, 32, 56, 112),
    "c3": (4, 8, 22, 44, 88, 176),
    "t2d": (1, 2, 4, 8, 16, 32, 48, 60),
}
GB_PER_VCPU = {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
N1_GB_PER_VCPU = {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9}
SHARED_CORE = frozenset({"e2-micro", "e2-small", "e2-medium", "f1-micro", "g1-small"})
# Custom types: the largest memory per vCPU without extended memory, and who may extend it.
CUSTOM_MAX_GB_PER_VCPU = {"n1": 6.5, "e2": 8.0, "n2": 8.0, "n2d": 8.0, "n4": 8.0}
EXTENDED = frozenset({"n1", "n2", "n2d"})
MEMORY_STEP_MIB = 256
_PREDEFINED = re.compile(r"^(?P<family>[a-z][a-z0-9]*)-(?P<klass>standard|highmem|highcpu)-(?P<vcpu>\d+)$")
_CUSTOM = re.compile(r"^(?:(?P<family>e2|n2|n2d|n4)-)?custom-(?P<vcpu>\d+)-(?P<mib>\d+)(?P<ext>-ext)?$")


@dataclass(frozen=True)
class MachineType:
    """A machine type's family, class (or 'custom'), vCPUs and memory."""

    name: str
    family: str
    klass: str
    vcpu: int
    memory_mib: int
    shared_core: bool = False

    @property
    def custom(self) -> bool:
        return self.klass == "custom"

    @property
    def memory_gb(self) -> float:
        return self.memory_mib / 1024

    def shape(self) -> dict[str, object]:
        return {"machineType": self.name, "vcpu": self.vcpu, "memoryGb": round(self.memory_gb, 2)}


def parse(name: str) -> MachineType | None:
    """The machine type ``name`` names, or None when the scheme is not known."""
    if name in SHARED_CORE:
        return MachineType(name, name.split("-", 1)[0], "shared", 0, 0, shared_core=True)
    if match := _CUSTOM.match(name):
        family = match["family"] or "n1"
        return MachineType(name, family, "custom", int(match["vcpu"]), int(match["mib"]))
    if (match := _PREDEFINED.match(name)) and match["family"] in SIZES:
        family, klass, vcpu = match["family"], match["klass"], int(match["vcpu"])
        per = (N1_GB_PER_VCPU if family == "n1" else GB_PER_VCPU)[klass]
        return MachineType(name, family, klass, vcpu, round(vcpu * per * 1024))
    return None


def smaller_fit(current: MachineType, needed_vcpu: float, memory_floor_ratio: float) -> MachineType | None:
    """The smallest type of the same family (and class) below ``current`` that holds the need.

    Memory shrinks with vCPUs but never below ``memory_floor_ratio`` of the current memory.
    """
    if current.shared_core:
        return None
    if current.custom:
        return _custom_fit(current, needed_vcpu, memory_floor_ratio)
    floor = current.memory_mib * memory_floor_ratio
    for size in SIZES[current.family]:
        if size >= current.vcpu:
            return None
        candidate = parse(f"{current.family}-{current.klass}-{size}")
        if candidate is not None and size >= needed_vcpu and candidate.memory_mib >= floor:
            return candidate
    return None


def _valid_custom_vcpus(family: str) -> list[int]:
    if family == "n1":
        return [1, *range(2, 97, 2)]
    if family == "e2":
        return list(range(2, 33, 2))
    return list(range(2, 129, 2))


def _custom_fit(current: MachineType, needed_vcpu: float, memory_floor_ratio: float) -> MachineType | None:
    vcpus = [v for v in _valid_custom_vcpus(current.family) if needed_vcpu <= v < current.vcpu]
    if not vcpus:
        return None
    vcpu = vcpus[0]
    mib = max(current.memory_mib * memory_floor_ratio, current.memory_mib * vcpu / current.vcpu)
    mib = math.ceil(mib / MEMORY_STEP_MIB) * MEMORY_STEP_MIB
    extended = mib / 1024 / vcpu > CUSTOM_MAX_GB_PER_VCPU[current.family]
    if extended and current.family not in EXTENDED:
        return None
    prefix = "" if current.family == "n1" else f"{current.family}-"
    name = f"{prefix}custom-{vcpu}-{mib}{'-ext' if extended else ''}"
    return MachineType(name, current.family, "custom", vcpu, mib)

"""EC2 instance-type catalogue (vCPU, memory, family, generation, architecture) from bundled data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_DATA = "instance_types.json"


@dataclass(frozen=True)
class InstanceType:
    """One EC2 instance type as the modules need it."""

    name: str
    family: str
    size: str
    vcpu: int
    memory_gib: float
    family_class: str  # burstable | general | compute | memory | storage | accelerated
    generation: str  # current | previous
    architecture: str  # x86_64 | arm64
    burstable: bool
    successors: tuple[str, ...]  # current-generation families a previous one may move to

    @property
    def previous_generation(self) -> bool:
        return self.generation == "previous"

    def shape(self) -> dict[str, object]:
        """How a finding shows this type in current/proposed: name, vCPUs, memory."""
        return {"instanceType": self.name, "vcpu": self.vcpu, "memoryGib": self.memory_gib}


@dataclass(frozen=True)
class Catalog:
    """All known instance types, by name and by family."""

    types: dict[str, InstanceType]
    source: str

    def get(self, name: str) -> InstanceType | None:
        return self.types.get(name)

    def family(self, family: str) -> list[InstanceType]:
        """Members of a family, smallest first (by vCPU, then memory)."""
        members = [t for t in self.types.values() if t.family == family]
        return sorted(members, key=lambda t: (t.vcpu, t.memory_gib))


def _parse(data: dict[str, Any]) -> Catalog:
    types: dict[str, InstanceType] = {}
    for family, spec in data["families"].items():
        for size, dims in spec["sizes"].items():
            name = f"{family}.{size}"
            types[name] = InstanceType(
                name=name,
                family=family,
                size=size,
                vcpu=int(dims["vcpu"]),
                memory_gib=float(dims["memoryGib"]),
                family_class=spec["class"],
                generation=spec["generation"],
                architecture=spec["architecture"],
                burstable=bool(spec["burstable"]),
                successors=tuple(spec["successors"]),
            )
    return Catalog(types=types, source=data["source"])


@cache
def load() -> Catalog:
    """The bundled catalogue (read once per process)."""
    text = resources.files("cloudios.modules.aws").joinpath(_DATA).read_text(encoding="utf-8")
    return _parse(json.loads(text))

"""Azure VM sizes described from their names: series, vCPUs and memory for the families we size.

Azure names encode a size: ``Standard_<family><vCPUs>[-<constrained>]<features>[_v<version>]``
(``Standard_D4as_v5``: family D, 4 vCPUs, features a (AMD) and s (premium storage), version 5).
Memory follows the family's fixed GiB per vCPU, as Microsoft documents each series: D v3-v6
4 GiB (2 with the ``l`` low-memory feature), E v3-v6 8 GiB (up to 48 vCPUs; larger E sizes do
not follow the ratio), F v2 2 GiB. Other families (B burstable, A, M, L, N, H, DC/EC, constrained
vCPU sizes ...) are not described, so modules never resize them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"^Standard_(?P<family>[A-Z]+)(?P<vcpu>\d+)(?P<features>[a-z]*)(?:_v(?P<version>\d+))?$")
_FEATURES = frozenset("abdilmpst")
# family -> (versions, GiB per vCPU, largest vCPU count that keeps the ratio)
_FAMILIES: dict[str, tuple[frozenset[int], float, int]] = {
    "D": (frozenset({3, 4, 5, 6}), 4.0, 96),
    "E": (frozenset({3, 4, 5, 6}), 8.0, 48),
    "F": (frozenset({2}), 2.0, 72),
}
LOW_MEMORY_GIB_PER_VCPU = 2.0
BURSTABLE_FAMILY = "B"


@dataclass(frozen=True)
class VmSize:
    """One described VM size."""

    name: str
    series: str  # family + features + version, e.g. 'Das_v5': sizes that differ only in vCPUs
    vcpu: int
    memory_gib: float

    def shape(self) -> dict[str, object]:
        """How a finding shows this size: name, vCPUs, memory."""
        return {"vmSize": self.name, "vcpu": self.vcpu, "memoryGib": self.memory_gib}


def describe(name: str) -> VmSize | None:
    """The size behind ``name``, or None when its family is not described."""
    match = _NAME.match(name)
    if match is None:
        return None
    family, features = match["family"], match["features"]
    known = _FAMILIES.get(family)
    version = int(match["version"]) if match["version"] else 0
    vcpu = int(match["vcpu"])
    if known is None or not set(features) <= _FEATURES or len(set(features)) != len(features):
        return None
    versions, per_vcpu, largest = known
    if version not in versions or vcpu > largest or vcpu < 1:
        return None
    if family == "F" and "s" not in features:
        return None
    if "l" in features:
        per_vcpu = LOW_MEMORY_GIB_PER_VCPU
    series = f"{family}{features}_v{version}"
    return VmSize(name=name, series=series, vcpu=vcpu, memory_gib=vcpu * per_vcpu)


def smaller(size: VmSize) -> list[VmSize]:
    """Described sizes of ``size``'s series with fewer vCPUs, smallest first.

    The usual steps (2, 4, 8, 16, 32, 48, 64 vCPUs); a step a series lacks has no price in the book,
    so a finding proposing it is reported unpriced rather than guessed.
    """
    head, version = size.series.split("_v")
    family = head.rstrip("abdilmpst")
    features = head[len(family) :]
    names = (f"Standard_{family}{n}{features}_v{version}" for n in (2, 4, 8, 16, 32, 48, 64))
    found = [d for name in names if (d := describe(name)) is not None and d.vcpu < size.vcpu]
    return sorted(found, key=lambda d: d.vcpu)

"""Shared pieces of the Azure modules: settings base, permissions, usage lines, disk tiers."""

from __future__ import annotations

from cloudios.domain import Resource, Usage
from cloudios.modules.shared import CamelSettings

METRICS_READ = "Microsoft.Insights/metrics/read"
GRAPH_READ = "Microsoft.ResourceGraph/resources/read"
VM_READ = "Microsoft.Compute/virtualMachines/read"
DISK_READ = "Microsoft.Compute/disks/read"
SNAPSHOT_READ = "Microsoft.Compute/snapshots/read"
PUBLIC_IP_READ = "Microsoft.Network/publicIPAddresses/read"
LB_READ = "Microsoft.Network/loadBalancers/read"

# Premium SSD (P), Standard SSD (E) and Standard HDD (S) bill the tier the size falls in.
_TIERS = (
    (4, 1),
    (8, 2),
    (16, 3),
    (32, 4),
    (64, 6),
    (128, 10),
    (256, 15),
    (512, 20),
    (1024, 30),
    (2048, 40),
    (4096, 50),
    (8192, 60),
    (16384, 70),
    (32767, 80),
)
STANDARD_HDD_SMALLEST = 4  # Standard HDD starts at S4 (32 GiB)
_TIER_LETTER = {"Premium": "P", "StandardSSD": "E", "Standard": "S"}


class AzureSettings(CamelSettings):
    """Settings of an Azure module: camelCase keys in ScanPolicy, snake_case in Python."""


def vm_usage(resource: Resource, vm_size: str) -> Usage:
    """The compute line of a VM (Linux and Windows price separately)."""
    os_name = str(resource.attr("os") or "linux").lower()
    return Usage(sku="azure.vm", region=resource.region, attributes={"vmSize": vm_size, "os": os_name})


def disk_tier(sku: str, size_gb: int) -> str | None:
    """The billed tier of a managed disk ('P10 LRS'), or None for per-GiB SKUs (Premium SSD v2, Ultra)."""
    kind, _, redundancy = sku.partition("_")
    letter = _TIER_LETTER.get(kind)
    if letter is None or redundancy not in {"LRS", "ZRS"}:
        return None
    for ceiling, number in _TIERS:
        if size_gb <= ceiling:
            billed = max(number, STANDARD_HDD_SMALLEST) if letter == "S" else number
            return f"{letter}{billed} {redundancy}"
    return None


def disk_usage(resource: Resource) -> Usage:
    """A managed disk's monthly line: its tier, or its SKU and size when billed per GiB (unpriced)."""
    sku = str(resource.attr("sku") or "")
    size = int(resource.attr("diskSizeGb") or 0)
    tier = disk_tier(sku, size)
    attributes = {"tier": tier} if tier else {"sku": sku, "sizeGb": str(size)}
    return Usage(sku="azure.disk", region=resource.region, attributes=attributes)

"""Seeded sample Azure estates with ground truth: what the demo serves and what accuracy tests score.

``generate(seed=..., scale=..., lookback_days=...)`` returns an ``Estate`` (see estate.py) of about
100 resources per 1.0 of scale. Every resource carries ``truth``, the category a careful FinOps
engineer expects with the module defaults (idle, rightsize, orphaned or none):

* VMs: idle (CPU 0.3-1.5%, daily maxima <= 10%, KB-MB of traffic; Linux or Windows, any size) ->
  idle; stopped but not deallocated -> idle; oversized D/E v5 (CPU 4-7%, maxima <= 12%, 10-25% of
  memory used) -> rightsize; busy, nightly batch (maxima 90%), bursty (maxima 85% on most days),
  deallocated, and thin (idle-looking but 3 days of data) -> none.
* Disks unattached for 10-300 days -> orphaned; attached, reserved or detached 2 days ago -> none.
* Public IPs static and unassociated -> orphaned; on a NIC, or Basic dynamic -> none.
* Snapshots older than 100 days -> orphaned; younger than 60 -> none.
* Standard load balancers with rules and no backends -> orphaned; with backends -> none.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudios.emulators.azure.estate import Estate, EstateResource, MetricSpec

DEMO_SUBSCRIPTION = "00000000-0000-0000-0000-00000000a2e0"
REGIONS = ("westeurope", "eastus")
THIN_DAYS = 3
SMALL = ("Standard_D2s_v5", "Standard_D4s_v5", "Standard_E2s_v5", "Standard_F2s_v2")
LARGE = ("Standard_D8s_v5", "Standard_D16s_v5", "Standard_E8s_v5", "Standard_D8as_v5")
Maker = Callable[[random.Random, str, str, datetime], EstateResource]


def _id(subscription: str, provider: str, name: str) -> str:
    return f"/subscriptions/{subscription}/resourceGroups/rg-sample/providers/{provider}/{name}"


def _vm(
    where: tuple[str, str, str], attrs: dict[str, Any], metrics: dict[str, MetricSpec], truth: str
) -> EstateResource:
    sub, region, name = where
    return EstateResource(
        kind="azure.vm",
        id=_id(sub, "Microsoft.Compute/virtualMachines", name),
        name=name,
        region=region,
        attributes={"powerState": "running", "os": "linux", **attrs},
        metrics=metrics,
        truth=truth,
    )


def _net(rng: random.Random, low: float, high: float) -> dict[str, MetricSpec]:
    level = rng.uniform(low, high)
    return {
        "network_in_total": MetricSpec(pattern="steady", level=level),
        "network_out_total": MetricSpec(pattern="steady", level=level / 2),
    }


def _vms(rng: random.Random, sub: str, region: str, n: int) -> list[EstateResource]:
    out: list[EstateResource] = []
    profiles = (
        "idle",
        "idle",
        "rightsize",
        "rightsize",
        "busy",
        "busy",
        "batch",
        "bursty",
        "thin",
        "stopped",
        "off",
    )
    for i in range(n):
        profile = profiles[i % len(profiles)]
        name = f"vm-{region[:4]}-{profile}-{i}"
        memory = {"available_memory_bytes": MetricSpec(pattern="steady", level=rng.uniform(0.3, 0.6))}
        if profile == "idle":
            cpu = MetricSpec(pattern="idle", level=rng.uniform(0.003, 0.015), peak=rng.uniform(0.03, 0.1))
            os_name = "windows" if rng.random() < 0.2 else "linux"  # noqa: PLR2004
            size = rng.choice(SMALL + LARGE)
            out.append(
                _vm(
                    (sub, region, name),
                    {"vmSize": size, "os": os_name},
                    {"percentage_cpu": cpu, **_net(rng, 1e5, 5e6), **memory},
                    "idle",
                )
            )
        elif profile == "rightsize":
            cpu = MetricSpec(pattern="steady", level=rng.uniform(0.04, 0.07), peak=0.12)
            used = {
                "available_memory_bytes": MetricSpec(
                    pattern="steady", level=rng.uniform(0.1, 0.25), peak=0.28
                )
            }
            out.append(
                _vm(
                    (sub, region, name),
                    {"vmSize": rng.choice(LARGE)},
                    {"percentage_cpu": cpu, **_net(rng, 1e9, 2e10), **used},
                    "rightsize",
                )
            )
        elif profile in {"busy", "batch", "bursty"}:
            cpu = {
                "busy": MetricSpec(pattern="steady", level=rng.uniform(0.35, 0.6)),
                "batch": MetricSpec(pattern="batch", level=rng.uniform(0.04, 0.08), peak=0.9),
                "bursty": MetricSpec(pattern="bursty", level=rng.uniform(0.05, 0.1), peak=0.85),
            }[profile]
            out.append(
                _vm(
                    (sub, region, name),
                    {"vmSize": rng.choice(SMALL + LARGE)},
                    {"percentage_cpu": cpu, **_net(rng, 1e9, 2e10), **memory},
                    "none",
                )
            )
        elif profile == "thin":
            cpu = MetricSpec(pattern="idle", level=0.01, peak=0.04, days=THIN_DAYS)
            out.append(
                _vm((sub, region, name), {"vmSize": rng.choice(LARGE)}, {"percentage_cpu": cpu}, "none")
            )
        else:
            state = "stopped" if profile == "stopped" else "deallocated"
            truth = "idle" if state == "stopped" else "none"
            out.append(
                _vm((sub, region, name), {"vmSize": rng.choice(SMALL), "powerState": state}, {}, truth)
            )
    return out


def _stamp(now: datetime, days: float) -> str:
    return (now - timedelta(days=days)).isoformat()


def _others(rng: random.Random, sub: str, region: str, n: int, now: datetime) -> list[EstateResource]:
    out: list[EstateResource] = []
    for i in range(n):
        which = i % 4
        created = _stamp(now, rng.uniform(200, 600))
        disk_id = _id(sub, "Microsoft.Compute/disks", f"disk-{region[:4]}-{i}")
        if which == 0:
            detached = rng.uniform(10, 300)
            attrs = {
                "sku": rng.choice(("Premium_LRS", "StandardSSD_LRS", "Standard_LRS")),
                "diskSizeGb": rng.choice((32, 64, 128, 256, 512)),
                "diskState": "Unattached",
                "timeCreated": created,
                "lastOwnershipUpdateTime": _stamp(now, detached),
            }
            out.append(
                EstateResource(
                    kind="azure.disk", id=disk_id, region=region, attributes=attrs, truth="orphaned"
                )
            )
            vm_id = _id(sub, "Microsoft.Compute/virtualMachines", f"owner-{i}")
            attached = {
                "sku": "Premium_LRS",
                "diskSizeGb": 128,
                "diskState": "Attached",
                "managedBy": vm_id,
                "timeCreated": created,
            }
            out.append(
                EstateResource(kind="azure.disk", id=disk_id + "-os", region=region, attributes=attached)
            )
        elif which == 1:
            state = rng.choice(("Reserved", "Unattached"))
            attrs = {
                "sku": "StandardSSD_LRS",
                "diskSizeGb": 64,
                "diskState": state,
                "timeCreated": created,
                "lastOwnershipUpdateTime": _stamp(now, 2),
            }
            out.append(EstateResource(kind="azure.disk", id=disk_id, region=region, attributes=attrs))
            ip = _id(sub, "Microsoft.Network/publicIPAddresses", f"ip-{region[:4]}-{i}")
            out.append(
                EstateResource(
                    kind="azure.publicip",
                    id=ip,
                    region=region,
                    truth="orphaned",
                    attributes={
                        "sku": "Standard",
                        "allocationMethod": "Static",
                        "ipAddress": f"20.0.{i % 250}.{rng.randint(1, 250)}",
                    },
                )
            )
            nic = _id(sub, "Microsoft.Network/networkInterfaces", f"nic-{i}") + "/ipConfigurations/ipconfig1"
            out.append(
                EstateResource(
                    kind="azure.publicip",
                    id=ip + "-used",
                    region=region,
                    attributes={"sku": "Standard", "allocationMethod": "Static", "ipConfigurationId": nic},
                )
            )
        elif which == 2:  # noqa: PLR2004
            snap = _id(sub, "Microsoft.Compute/snapshots", f"snap-{region[:4]}-{i}")
            old = {
                "sku": "Standard_LRS",
                "diskSizeGb": rng.choice((64, 128, 256)),
                "timeCreated": _stamp(now, rng.uniform(100, 400)),
                "sourceResourceId": disk_id,
            }
            out.append(
                EstateResource(
                    kind="azure.snapshot", id=snap, region=region, attributes=old, truth="orphaned"
                )
            )
            young = {**old, "timeCreated": _stamp(now, rng.uniform(1, 60))}
            out.append(
                EstateResource(kind="azure.snapshot", id=snap + "-new", region=region, attributes=young)
            )
            out.append(
                EstateResource(
                    kind="azure.publicip",
                    id=snap.replace("snapshots", "x") + "-dyn",
                    region=region,
                    attributes={"sku": "Basic", "allocationMethod": "Dynamic"},
                )
            )
        else:
            lb = _id(sub, "Microsoft.Network/loadBalancers", f"lb-{region[:4]}-{i}")
            empty = {"sku": "Standard", "backendPools": 1, "backendTargets": 0, "rules": rng.randint(1, 8)}
            out.append(
                EstateResource(kind="azure.lb", id=lb, region=region, attributes=empty, truth="orphaned")
            )
            used = {"sku": "Standard", "backendPools": 1, "backendTargets": rng.randint(1, 6), "rules": 2}
            out.append(EstateResource(kind="azure.lb", id=lb + "-used", region=region, attributes=used))
    return out


def generate(
    *,
    seed: int = 7,
    scale: float = 1.0,
    lookback_days: int = 30,
    subscription: str = DEMO_SUBSCRIPTION,
    regions: Sequence[str] = REGIONS,
    now: datetime | None = None,
) -> Estate:
    """A sample estate: per region ~33 VMs and ~17 other resources per 1.0 of scale."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    resources: list[EstateResource] = []
    for region in regions:
        resources += _vms(rng, subscription, region, max(1, round(33 * scale)))
        resources += _others(rng, subscription, region, max(1, round(12 * scale)), moment)
    return Estate(provider="azure", account=subscription, lookback_days=lookback_days, resources=resources)


def truth(estate: Estate) -> dict[str, str]:
    """resource id -> expected category, for resources that should get a finding."""
    return {r.id: r.truth for r in estate.resources if r.truth != "none"}

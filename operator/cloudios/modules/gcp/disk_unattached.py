"""gcp.disk.unattached: persistent disks attached to no VM; proposes snapshotting and deleting them."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.gcp import GCE_DISK
from cloudios.modules.base import Module, ModuleSpec
from cloudios.modules.gcp import _common as common


class DiskUnattachedSettings(common.GcpSettings):
    """Thresholds of gcp.disk.unattached."""

    min_age_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="Days since the disk was created or last detached before it is reported.",
    )


SPEC = ModuleSpec(
    name="gcp.disk.unattached",
    provider=Provider.GCP,
    category=Category.ORPHANED,
    summary="Persistent disks with no users (attached to no VM) for at least minAgeDays; snapshot, "
    "then delete. Savings are the disk's GB-month. Inventory only: high confidence.",
    resource_kinds=(GCE_DISK,),
    permissions=("compute.disks.list",),
    settings=DiskUnattachedSettings,
)


def evaluate(snapshot: Snapshot, settings: DiskUnattachedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for disk in snapshot.of_kind(GCE_DISK):
        if disk.attr("users") or disk.attr("status") not in {"READY", None}:
            continue
        idle_days = common.days_since(disk, snapshot.collected_at, "lastDetachTimestamp")
        if idle_days is None or idle_days < settings.min_age_days:
            continue
        disk_type, size = str(disk.attr("diskType") or ""), int(disk.attr("sizeGb") or 0)
        findings.append(
            common.build_finding(
                SPEC,
                disk,
                action=Action.DELETE,
                title=f"Delete unattached disk {common.label(disk)} ({size} GB {disk_type})",
                confidence=Confidence.HIGH,
                current={"diskType": disk_type, "sizeGb": size, "users": []},
                proposed={"state": "deleted (snapshot first if the data matters)"},
                evidence=common.evidence(
                    settings,
                    None,
                    unattachedDays=round(idle_days, 1),
                    lastDetachTimestamp=disk.attr("lastDetachTimestamp"),
                ),
                current_usage=[
                    Usage(
                        sku="gce.disk", region=disk.region, attributes={"diskType": disk_type}, quantity=size
                    )
                ],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

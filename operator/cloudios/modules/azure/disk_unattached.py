"""azure.disk.unattached: managed disks attached to nothing; proposes deleting them (snapshot first).

A disk in state ``Unattached`` is billed its full tier whatever its use. Quiet days count from the
later of its creation and its last ownership change (``lastOwnershipUpdateTime``: when it was last
detached), so a disk detached for maintenance yesterday is not reported. Disks in ``Reserved`` or
``ActiveSAS`` state (a deallocated VM's disk, an export in progress) are skipped. Confidence follows
the shared scheme on the quiet days.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Finding, Provider, Snapshot
from cloudios.domain.azure import DISK
from cloudios.modules import confidence as conf
from cloudios.modules import shared
from cloudios.modules.azure import _common as common
from cloudios.modules.base import Module, ModuleSpec


class DiskUnattachedSettings(common.AzureSettings):
    """Thresholds of azure.disk.unattached."""

    min_age_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="Days since the disk's creation and since it was last detached before it is reported.",
    )


SPEC = ModuleSpec(
    name="azure.disk.unattached",
    provider=Provider.AZURE,
    category=Category.ORPHANED,
    summary="Managed disks in state Unattached for at least minAgeDays; snapshot, then delete. "
    "Savings are the disk's tier price per month.",
    resource_kinds=(DISK,),
    permissions=(common.GRAPH_READ, common.DISK_READ),
    settings=DiskUnattachedSettings,
)


def evaluate(snapshot: Snapshot, settings: DiskUnattachedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    now = snapshot.collected_at
    for disk in snapshot.of_kind(DISK):
        if disk.attr("diskState") != "Unattached" or disk.attr("managedBy"):
            continue
        created = shared.created_at(disk, "timeCreated")
        detached = shared.as_datetime(disk.attr("lastOwnershipUpdateTime"))
        since = max((t for t in (created, detached) if t is not None), default=None)
        quiet = shared.age_days(since, now)
        if quiet is None or quiet < settings.min_age_days:
            continue
        level = conf.for_days(min(int(quiet), snapshot.lookback_days), 1)
        if level is None:
            continue
        sku = str(disk.attr("sku") or "")
        size = shared.as_int(disk.attr("diskSizeGb"))
        usage = common.disk_usage(disk)
        findings.append(
            shared.build_finding(
                SPEC,
                disk,
                action=Action.DELETE,
                title=f"Snapshot, then delete unattached Azure disk {shared.label(disk)} ({size} GB {sku})",
                confidence=level,
                current={"diskState": "Unattached", "sku": sku, "diskSizeGb": size},
                proposed={"state": "deleted", "snapshotFirst": True},
                evidence=shared.evidence(
                    settings,
                    int(quiet),
                    quietDays=int(quiet),
                    lastDetached=None if detached is None else detached.isoformat(),
                    billedTier=usage.attributes.get("tier"),
                    suggestion="Take an incremental snapshot before deleting; it is billed on the "
                    "data actually used.",
                ),
                current_usage=[usage],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""azure.snapshot.old: managed snapshots older than maxAgeDays; proposes deleting them.

Confidence is high when the source disk no longer exists in the subscription, medium otherwise.
The saving prices the snapshot's full size: Azure bills full snapshots on the used size and
incremental ones on the changed blocks, so the figure is an upper bound (``upperBound: true``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.azure import DISK, SNAPSHOT
from cloudios.modules import shared
from cloudios.modules.azure import _common as common
from cloudios.modules.base import Module, ModuleSpec


class SnapshotOldSettings(common.AzureSettings):
    """Thresholds of azure.snapshot.old."""

    max_age_days: int = Field(
        default=90, ge=1, le=3650, description="Snapshots older than this many days are reported."
    )


SPEC = ModuleSpec(
    name="azure.snapshot.old",
    provider=Provider.AZURE,
    category=Category.ORPHANED,
    summary="Managed disk snapshots older than maxAgeDays; delete them. Savings price the full size "
    "(an upper bound for incremental snapshots).",
    resource_kinds=(SNAPSHOT, DISK),
    permissions=(common.GRAPH_READ, common.SNAPSHOT_READ, common.DISK_READ),
    settings=SnapshotOldSettings,
)


def evaluate(snapshot: Snapshot, settings: SnapshotOldSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    disks = {d.id.lower() for d in snapshot.of_kind(DISK)}
    for snap in snapshot.of_kind(SNAPSHOT):
        age = shared.age_days(shared.created_at(snap, "timeCreated"), snapshot.collected_at)
        if age is None or age < settings.max_age_days:
            continue
        source = str(snap.attr("sourceResourceId") or "")
        source_gone = bool(source) and source.lower() not in disks
        size = shared.as_int(snap.attr("diskSizeGb"))
        sku = str(snap.attr("sku") or "Standard_LRS")
        findings.append(
            shared.build_finding(
                SPEC,
                snap,
                action=Action.DELETE,
                title=f"Delete {int(age)}-day-old Azure snapshot {shared.label(snap)} ({size} GB)",
                confidence=Confidence.HIGH if source_gone else Confidence.MEDIUM,
                current={"ageDays": int(age), "diskSizeGb": size, "sku": sku},
                proposed={"state": "deleted"},
                evidence=shared.evidence(
                    settings,
                    None,
                    ageDays=int(age),
                    sourceResourceId=source or None,
                    sourceDiskExists=not source_gone,
                    incremental=shared.as_bool(snap.attr("incremental")),
                    upperBound=True,
                ),
                current_usage=[
                    Usage(sku="azure.snapshot", region=snap.region, attributes={"sku": sku}, quantity=size)
                ],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

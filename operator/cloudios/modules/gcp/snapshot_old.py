"""gcp.snapshot.old: disk snapshots older than a threshold; review and delete them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.gcp import GCE_SNAPSHOT
from cloudios.modules.base import Module, ModuleSpec
from cloudios.modules.gcp import _common as common


class SnapshotOldSettings(common.GcpSettings):
    """Thresholds of gcp.snapshot.old."""

    max_age_days: int = Field(
        default=90, ge=1, le=3650, description="Snapshots older than this many days are reported."
    )


SPEC = ModuleSpec(
    name="gcp.snapshot.old",
    provider=Provider.GCP,
    category=Category.ORPHANED,
    summary="Disk snapshots older than maxAgeDays; keep what retention rules need and delete the "
    "rest. Savings are the snapshot's stored bytes at its storage location's GB-month price "
    "(an upper bound: incremental snapshots share blocks). Medium confidence: age alone does "
    "not say a backup is unneeded.",
    resource_kinds=(GCE_SNAPSHOT,),
    permissions=("compute.snapshots.list",),
    settings=SnapshotOldSettings,
)


def evaluate(snapshot: Snapshot, settings: SnapshotOldSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for snap in snapshot.of_kind(GCE_SNAPSHOT):
        age = common.days_since(snap, snapshot.collected_at)
        if age is None or age <= settings.max_age_days:
            continue
        stored_gb = (Decimal(int(snap.attr("storageBytes") or 0)) / common.GIB).quantize(Decimal("0.001"))
        locations = snap.attr("storageLocations") or []
        where = str(locations[0]) if locations else snap.region
        findings.append(
            common.build_finding(
                SPEC,
                snap,
                action=Action.DELETE,
                title=f"Delete snapshot {common.label(snap)}, {int(age)} days old",
                confidence=Confidence.MEDIUM,
                current={
                    "storageGb": str(stored_gb),
                    "storageLocation": where,
                    "sourceDisk": snap.attr("sourceDisk"),
                },
                proposed={"state": "deleted"},
                evidence=common.evidence(settings, None, ageDays=round(age, 1)),
                current_usage=[Usage(sku="gce.snapshot", region=where, quantity=stored_gb)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""aws.rds.snapshot_old: manual RDS DB and DB cluster snapshots older than maxAgeDays; delete them.

Only manual snapshots are considered (automated ones expire with the backup retention period, and
AWS Backup's carry ``aws:backup:`` tags and follow their plan). A snapshot must be ``available``.
Confidence is high when its source DB instance or cluster no longer exists (nothing else will
ever restore from a newer copy), medium otherwise.

Savings are priced per GB-month of snapshot (backup) storage, on the snapshot's allocated storage:
an upper bound, since RDS bills incremental blocks and gives free backup storage up to the region's
provisioned database storage (``upperBound: true``). The usage line is ``rds.snapshot`` with the
engine (Aurora backup storage has its own price); where the price book has no such price the finding
is published unpriced with the reason, never with a made-up figure. One finding per snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.resource import RDS_SNAPSHOT
from cloudios.modules.aws import _common as common
from cloudios.modules.base import Module, ModuleSpec


class RdsSnapshotOldSettings(common.AwsSettings):
    """Thresholds of aws.rds.snapshot_old."""

    max_age_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Manual snapshots older than this many days (by creation time) are reported.",
    )


SPEC = ModuleSpec(
    name="aws.rds.snapshot_old",
    provider=Provider.AWS,
    category=Category.ORPHANED,
    summary="Manual RDS DB snapshots and DB cluster snapshots older than maxAgeDays; delete them. "
    "Savings price snapshot storage per GB-month of allocated storage, an upper bound; unpriced "
    "with the reason where the price book has no RDS snapshot price.",
    resource_kinds=(RDS_SNAPSHOT,),
    permissions=(
        "rds:DescribeDBSnapshots",
        "rds:DescribeDBClusterSnapshots",
        "rds:DescribeDBInstances",
        "rds:DescribeDBClusters",
    ),
    settings=RdsSnapshotOldSettings,
)


def evaluate(snapshot: Snapshot, settings: RdsSnapshotOldSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for snap in snapshot.of_kind(RDS_SNAPSHOT):
        if snap.attr("snapshotType") != "manual" or snap.attr("status") != "available":
            continue
        if any(key.startswith("aws:backup:") for key in snap.tags):
            continue
        age = common.age_days(common.created_at(snap, "createTime"), snapshot.collected_at)
        if age is None or age <= settings.max_age_days:
            continue
        size = common.as_int(snap.attr("allocatedStorageGb"))
        engine = str(snap.attr("engine") or "")
        source_gone = snap.attr("sourceExists") is False
        kind = "DB cluster snapshot" if common.as_bool(snap.attr("cluster")) else "DB snapshot"
        findings.append(
            common.build_finding(
                SPEC,
                snap,
                action=Action.DELETE,
                title=f"Delete RDS {kind} {snap.attr('identifier') or snap.id} ({engine}, {size} GB, "
                f"{int(age)} days old)",
                confidence=Confidence.HIGH if source_gone else Confidence.MEDIUM,
                current={
                    "sizeGb": size,
                    "ageDays": int(age),
                    "engine": engine,
                    "sourceId": snap.attr("sourceId"),
                },
                proposed={"state": "deleted"},
                evidence=common.evidence(
                    settings,
                    None,
                    ageDays=int(age),
                    snapshotKind=kind,
                    sourceId=snap.attr("sourceId"),
                    sourceExists=snap.attr("sourceExists"),
                    upperBound=True,
                    note="Priced on the allocated storage; RDS bills incremental blocks and gives "
                    "free backup storage up to the region's provisioned database storage. Copy the "
                    "snapshot elsewhere (or export it to S3) first if it must be kept.",
                ),
                current_usage=[
                    Usage(
                        sku="rds.snapshot", region=snap.region, attributes={"engine": engine}, quantity=size
                    )
                ],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

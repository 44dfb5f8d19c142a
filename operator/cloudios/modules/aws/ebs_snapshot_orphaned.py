"""aws.ebs.snapshot_orphaned: snapshots whose source volume no longer exists; proposes deletion.

A snapshot is orphaned when the volume it was taken from is gone (DescribeVolumes no longer lists
it), no AMI of the account maps it in its block devices (DescribeImages), and it is older than
``minAgeDays``: the last backup of a deleted volume gets that long to be noticed. Snapshots whose
source is unknown (copies and AMI-registered snapshots carry the placeholder vol-ffffffff) and those
managed by Data Lifecycle Manager or AWS Backup (``aws:dlm:``/``aws:backup:`` tags) are skipped.

Confidence: medium below ``highConfidenceAgeDays`` (it may be the final backup kept on purpose),
high from then on. Savings price the full snapshot size, an upper bound of the incremental blocks
AWS bills (``upperBound: true``). Dedupe: one finding per snapshot; where aws.ebs.snapshot_old also
reports it, this finding is kept (aws.ebs.snapshot_old yields to it), so the bytes count once.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.resource import EBS_SNAPSHOT
from cloudios.modules.aws import _common as common
from cloudios.modules.base import Module, ModuleSpec


class SnapshotOrphanedSettings(common.AwsSettings):
    """Thresholds of aws.ebs.snapshot_orphaned."""

    min_age_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="Snapshots younger than this many days (by start time) are skipped.",
    )
    high_confidence_age_days: int = Field(
        default=90,
        ge=0,
        le=3650,
        description="From this age on a finding is high confidence; younger ones are medium (a "
        "final backup of a deleted volume may be kept on purpose).",
    )


SPEC = ModuleSpec(
    name="aws.ebs.snapshot_orphaned",
    provider=Provider.AWS,
    category=Category.ORPHANED,
    summary="EBS snapshots whose source volume no longer exists, not used by any AMI nor managed "
    "by DLM or AWS Backup, older than minAgeDays; delete them. Savings price the full size, an "
    "upper bound of the incremental size AWS bills.",
    resource_kinds=(EBS_SNAPSHOT,),
    permissions=("ec2:DescribeSnapshots", "ec2:DescribeImages", "ec2:DescribeVolumes"),
    settings=SnapshotOrphanedSettings,
)


def evaluate(snapshot: Snapshot, settings: SnapshotOrphanedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for snap in snapshot.of_kind(EBS_SNAPSHOT):
        if snap.attr("usedByImage") or common.managed_snapshot(snap) or not common.source_volume_gone(snap):
            continue
        age = common.age_days(common.created_at(snap, "startTime"), snapshot.collected_at)
        if age is None or age <= settings.min_age_days:
            continue
        size = common.as_int(snap.attr("sizeGb"))
        high = age >= settings.high_confidence_age_days
        volume_id = snap.attr("volumeId")
        findings.append(
            common.build_finding(
                SPEC,
                snap,
                action=Action.DELETE,
                title=f"Delete orphaned EBS snapshot {common.label(snap)} of deleted volume {volume_id} "
                f"({size} GB, {int(age)} days old)",
                confidence=Confidence.HIGH if high else Confidence.MEDIUM,
                current={"sizeGb": size, "ageDays": int(age), "volumeId": volume_id},
                proposed={"state": "deleted"},
                evidence=common.evidence(
                    settings,
                    None,
                    ageDays=int(age),
                    sourceVolumeExists=False,
                    usedByImage=None,
                    description=snap.attr("description"),
                    upperBound=True,
                    confidenceReasons=[]
                    if high
                    else [f"younger than {settings.high_confidence_age_days} days: may be the final backup"],
                    note="The source volume is gone and no AMI uses the snapshot; priced at the full "
                    "volume size, while AWS bills only the snapshot's unique blocks.",
                ),
                current_usage=[Usage(sku="ebs.snapshot", region=snap.region, quantity=size)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""aws.ebs.snapshot_old: EBS snapshots older than maxAgeDays that no AMI uses; proposes deletion.

Snapshots managed by Data Lifecycle Manager or AWS Backup (their ``aws:dlm:``/``aws:backup:``
tags) are skipped: their policy already expires them. Confidence is high when the source volume
no longer exists, medium otherwise (also when the source is unknown: copied snapshots carry the
placeholder vol-ffffffff). The saving prices the full snapshot size: AWS bills only the blocks the
snapshot holds that no other snapshot shares, so the figure is an upper bound (``upperBound: true``
in the evidence). Dedupe: on a snapshot aws.ebs.snapshot_orphaned also reports (its source volume
is gone), the orphaned finding is kept; both price the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.resource import EBS_SNAPSHOT
from cloudios.modules.aws import _common as common
from cloudios.modules.base import Module, ModuleSpec


class SnapshotOldSettings(common.AwsSettings):
    """Thresholds of aws.ebs.snapshot_old."""

    max_age_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Snapshots older than this many days (by start time) are reported.",
    )


SPEC = ModuleSpec(
    name="aws.ebs.snapshot_old",
    provider=Provider.AWS,
    category=Category.ORPHANED,
    summary="EBS snapshots older than maxAgeDays not used by any AMI nor managed by DLM or AWS "
    "Backup; delete them. Savings price the full size, an upper bound of the incremental size "
    "AWS bills.",
    resource_kinds=(EBS_SNAPSHOT,),
    permissions=("ec2:DescribeSnapshots", "ec2:DescribeImages", "ec2:DescribeVolumes"),
    yields_to=("aws.ebs.snapshot_orphaned",),
    settings=SnapshotOldSettings,
)


def evaluate(snapshot: Snapshot, settings: SnapshotOldSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for snap in snapshot.of_kind(EBS_SNAPSHOT):
        if snap.attr("usedByImage"):
            continue
        if common.managed_snapshot(snap):
            continue
        age = common.age_days(common.created_at(snap, "startTime"), snapshot.collected_at)
        if age is None or age <= settings.max_age_days:
            continue
        size = common.as_int(snap.attr("sizeGb"))
        source_exists = snap.attr("sourceVolumeExists")
        confidence = Confidence.HIGH if common.source_volume_gone(snap) else Confidence.MEDIUM
        findings.append(
            common.build_finding(
                SPEC,
                snap,
                action=Action.DELETE,
                title=f"Delete EBS snapshot {common.label(snap)} ({size} GB, {int(age)} days old)",
                confidence=confidence,
                current={"sizeGb": size, "ageDays": int(age), "volumeId": snap.attr("volumeId")},
                proposed={"state": "deleted"},
                evidence=common.evidence(
                    settings,
                    None,
                    ageDays=int(age),
                    sourceVolumeExists=source_exists,
                    usedByImage=None,
                    description=snap.attr("description"),
                    upperBound=True,
                    note="Priced at the full volume size; AWS bills only the snapshot's unique "
                    "blocks, so the real saving can be lower.",
                ),
                current_usage=[Usage(sku="ebs.snapshot", region=snap.region, quantity=size)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""aws.ebs.unattached: volumes left in state 'available'; proposes deleting them (snapshot first).

Age comes from createTime; a volume created less than ``minAgeDays`` ago is skipped. Read/write
operations in the window show when it was last attached: a volume with I/O in the last
``minAgeDays`` days was detached recently (maintenance in progress) and is skipped. Confidence
follows the shared scheme on the quiet days (days since creation or last I/O within the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from pydantic import Field

from cloudios.domain import Action, Category, Finding, Metric, Provider, Snapshot
from cloudios.domain.resource import EBS_VOLUME
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.base import MetricNeed, Module, ModuleSpec


class EbsUnattachedSettings(common.AwsSettings):
    """Thresholds of aws.ebs.unattached."""

    min_age_days: int = Field(
        default=7,
        ge=0,
        le=3650,
        description="Days since the volume's creation, and since its last read or write, before "
        "it is reported.",
    )


SPEC = ModuleSpec(
    name="aws.ebs.unattached",
    provider=Provider.AWS,
    category=Category.ORPHANED,
    summary="EBS volumes in state 'available' (attached to nothing) for at least minAgeDays; "
    "snapshot, then delete. Savings are the whole volume: GB-month plus provisioned IOPS and "
    "throughput.",
    resource_kinds=(EBS_VOLUME,),
    metrics=(
        MetricNeed(EBS_VOLUME, Metric.VOLUME_READ_OPS),
        MetricNeed(EBS_VOLUME, Metric.VOLUME_WRITE_OPS),
    ),
    permissions=("ec2:DescribeVolumes", common.CLOUDWATCH_READ),
    settings=EbsUnattachedSettings,
)


def evaluate(snapshot: Snapshot, settings: EbsUnattachedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    now = snapshot.collected_at
    for volume in snapshot.of_kind(EBS_VOLUME):
        if volume.attr("state") != "available":
            continue
        age = common.age_days(common.created_at(volume, "createTime"), now)
        if age is None or age < settings.min_age_days:
            continue
        reads = snapshot.metric(volume.id, Metric.VOLUME_READ_OPS)
        writes = snapshot.metric(volume.id, Metric.VOLUME_WRITE_OPS)
        io_days = [day for day, ops in common.totals_by_day(reads, writes).items() if ops > 0]
        if io_days:
            # Whole days after the last day with I/O, up to the day before collection.
            quiet = (now.date() - max(io_days) - timedelta(days=1)).days
        else:
            quiet = min(int(age), snapshot.lookback_days)
        if quiet < settings.min_age_days:
            continue
        level = conf.for_days(quiet, 1)
        if level is None:
            continue
        volume_type, size, billed = common.volume_billing(volume)
        findings.append(
            common.build_finding(
                SPEC,
                volume,
                action=Action.DELETE,
                title=f"Snapshot, then delete unattached EBS volume {common.label(volume)} "
                f"({size} GB {volume_type}, unattached)",
                confidence=level,
                current={"state": "available", "volumeType": volume_type, "sizeGb": size},
                proposed={"state": "deleted", "snapshotFirst": True},
                evidence=common.evidence(
                    settings,
                    quiet,
                    (reads, writes),
                    ageDays=int(age),
                    quietDays=quiet,
                    lastIoDay=max(io_days).isoformat() if io_days else None,
                    suggestion="Take a snapshot before deleting; a snapshot costs the snapshot "
                    "GB-month price on the data actually written.",
                ),
                current_usage=billed,
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

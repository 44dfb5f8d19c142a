"""aws.ebs.low_activity: attached volumes that nobody reads or writes; proposes snapshot and delete.

Evidence: the daily total of VolumeReadOps + VolumeWriteOps (CloudWatch's daily Sum) stays at or
below ``maxDailyOps`` on every day with data, over at least ``minDays`` days. EBS publishes these
metrics for attached volumes even when idle (zeros), so days without datapoints are missing data,
not quiet days: fewer than ``minDays`` days of data give no finding. Confidence follows the shared
days scheme, capped at medium: the volume is attached, so whatever mounts it must let go first.

Only volumes attached (``in-use``) to a running instance are judged, and never the instance's root
volume (it cannot be detached from a running instance; an unused machine is aws.ec2.idle's case).
An attachment whose device or the instance's root device is unknown is skipped. This keeps the
module apart from aws.ebs.unattached (state ``available``) and aws.ebs.stopped_instance (instance
stopped): one volume gets at most one of the three. Dedupe: this removal wins over changing the
same volume's type (aws.ebs.gp2_to_gp3, aws.ebs.io_to_gp3), which would save less of the same
dollars. Savings are the whole volume: GB-month plus provisioned IOPS and throughput.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Resource, Snapshot
from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.base import MetricNeed, Module, ModuleSpec


class EbsLowActivitySettings(common.AwsSettings):
    """Thresholds of aws.ebs.low_activity."""

    min_days: int = common.min_days_field()
    max_daily_ops: int = Field(
        default=100,
        ge=0,
        description="Read plus write operations a day (VolumeReadOps + VolumeWriteOps) that every "
        "day with data must stay at or below (Thrifty's alarm level: 100).",
    )


SPEC = ModuleSpec(
    name="aws.ebs.low_activity",
    provider=Provider.AWS,
    category=Category.IDLE,
    summary="Non-root EBS volumes attached to a running instance whose daily read plus write "
    "operations stay at or below maxDailyOps on every day of at least minDays days of data; "
    "snapshot, detach and delete. Savings are the whole volume. At most medium confidence.",
    resource_kinds=(EBS_VOLUME, EC2_INSTANCE),
    metrics=(
        MetricNeed(EBS_VOLUME, Metric.VOLUME_READ_OPS),
        MetricNeed(EBS_VOLUME, Metric.VOLUME_WRITE_OPS),
    ),
    min_days=7,
    permissions=("ec2:DescribeVolumes", "ec2:DescribeInstances", common.CLOUDWATCH_READ),
    settings=EbsLowActivitySettings,
)


def _judged(volume: Resource, running: dict[str, Resource]) -> Resource | None:
    """The running instance a non-root attached volume belongs to, or None when not judged."""
    if volume.attr("state") != "in-use":
        return None
    instance = running.get(str(volume.attr("attachedTo") or ""))
    if instance is None:
        return None
    device, root = volume.attr("device"), instance.attr("rootDeviceName")
    if not device or not root or device == root:
        return None
    return instance


def evaluate(snapshot: Snapshot, settings: EbsLowActivitySettings) -> Sequence[Finding]:
    running = {i.id: i for i in snapshot.of_kind(EC2_INSTANCE) if i.attr("state") == "running"}
    findings: list[Finding] = []
    for volume in snapshot.of_kind(EBS_VOLUME):
        instance = _judged(volume, running)
        if instance is None:
            continue
        reads = snapshot.metric(volume.id, Metric.VOLUME_READ_OPS)
        writes = snapshot.metric(volume.id, Metric.VOLUME_WRITE_OPS)
        daily = common.totals_by_day(reads, writes)
        level = conf.for_days(len(daily), settings.min_days)
        if level is None or max(daily.values()) > settings.max_daily_ops:
            continue
        volume_type, size, billed = common.volume_billing(volume)
        busiest = max(daily.values())
        findings.append(
            common.build_finding(
                SPEC,
                volume,
                action=Action.DELETE,
                title=f"Snapshot, detach and delete low-activity EBS volume {common.label(volume)} "
                f"({size} GB {volume_type}) of instance {instance.id}: at most {busiest:.0f} "
                f"operations a day over {len(daily)} days",
                confidence=conf.cap(level, Confidence.MEDIUM),
                current={
                    "state": "in-use",
                    "attachedTo": instance.id,
                    "volumeType": volume_type,
                    "sizeGb": size,
                },
                proposed={"state": "deleted", "snapshotFirst": True},
                evidence=common.evidence(
                    settings,
                    len(daily),
                    (reads, writes),
                    instanceId=instance.id,
                    device=volume.attr("device"),
                    maxDailyOpsObserved=round(busiest, 2),
                    meanDailyOps=round(sum(daily.values()) / len(daily), 2),
                    rule=f"VolumeReadOps + VolumeWriteOps <= {settings.max_daily_ops} a day on every "
                    f"one of {len(daily)} days with data",
                    confidenceReasons=["the volume is attached: unmount it from the instance first"],
                    suggestion="Take a snapshot before deleting (billed at the snapshot GB-month "
                    "price on the data written); check the volume is not a cold standby.",
                ),
                current_usage=billed,
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

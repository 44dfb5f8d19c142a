"""aws.ebs.stopped_instance: volumes attached to instances stopped for a long time; still billed.

A stopped instance bills nothing for compute but every attached EBS volume keeps billing its
GB-month (and provisioned IOPS/throughput). An instance stopped for ``minStoppedDays`` or more is
probably not coming back: the finding is on each attached volume (one per volume, so the saving
is the volume's own cost and dedupe keeps it over a gp2->gp3 change of the same volume), proposes
a snapshot and deletion (or terminating the instance), and names the instance and its stop time.
The stop time comes from the instance's state transition reason; an instance whose stop time is
unknown gets no finding (its stopped duration cannot be judged). Auto Scaling group members are
skipped (the group manages them).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot
from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE
from cloudios.modules.aws import _common as common
from cloudios.modules.base import Module, ModuleSpec


class EbsStoppedInstanceSettings(common.AwsSettings):
    """Thresholds of aws.ebs.stopped_instance."""

    min_stopped_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days an instance must have been stopped before its attached volumes are reported.",
    )


SPEC = ModuleSpec(
    name="aws.ebs.stopped_instance",
    provider=Provider.AWS,
    category=Category.IDLE,
    summary="EBS volumes attached to an EC2 instance stopped for at least minStoppedDays (stop "
    "time from the instance's state transition reason); snapshot, then delete the volumes or "
    "terminate the instance. Savings are the volume's GB-month plus provisioned IOPS and "
    "throughput; instances with an unknown stop time and Auto Scaling group members are skipped.",
    resource_kinds=(EBS_VOLUME, EC2_INSTANCE),
    permissions=("ec2:DescribeVolumes", "ec2:DescribeInstances"),
    settings=EbsStoppedInstanceSettings,
)


def evaluate(snapshot: Snapshot, settings: EbsStoppedInstanceSettings) -> Sequence[Finding]:
    now = snapshot.collected_at
    stopped: dict[str, float] = {}
    for instance in snapshot.of_kind(EC2_INSTANCE):
        if instance.attr("state") != "stopped" or instance.attr("autoScalingGroup"):
            continue
        days = common.age_days(common.as_datetime(instance.attr("stoppedAt")), now)
        if days is not None and days >= settings.min_stopped_days:
            stopped[instance.id] = days
    findings: list[Finding] = []
    for volume in snapshot.of_kind(EBS_VOLUME):
        owner = str(volume.attr("attachedTo") or "")
        if volume.attr("state") != "in-use" or owner not in stopped:
            continue
        volume_type, size, billed = common.volume_billing(volume)
        findings.append(
            common.build_finding(
                SPEC,
                volume,
                action=Action.DELETE,
                title=f"Snapshot, then delete EBS volume {common.label(volume)} ({size} GB "
                f"{volume_type}) of instance {owner}, stopped for {int(stopped[owner])} days",
                confidence=Confidence.HIGH,
                current={"state": "in-use", "attachedTo": owner, "volumeType": volume_type, "sizeGb": size},
                proposed={"state": "deleted", "snapshotFirst": True},
                evidence=common.evidence(
                    settings,
                    None,
                    instanceId=owner,
                    instanceStoppedDays=int(stopped[owner]),
                    suggestion="Take a snapshot first (billed at the snapshot GB-month price on "
                    "the data written), or terminate the instance if it is no longer needed.",
                ),
                current_usage=billed,
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

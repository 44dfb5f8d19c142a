"""aws.ebs.gp2_to_gp3: gp2 volumes; proposes gp3 with the performance gp2 gives them.

gp3 settings: IOPS = max(3000, gp2 baseline 3 IOPS/GB capped at 16,000), never below gp2's
baseline nor its 3,000 burst; throughput = 125 MiB/s (the gp3 baseline) for volumes up to 170 GB,
else 250 MiB/s, the most gp2 delivers above 170 GB (from 334 GB regardless of burst credits).
Up to 170 GB gp2 peaks at 128 MiB/s: the proposal accepts 125 MiB/s, 2% lower but sustained
rather than burst. Matching gp2's ceiling above 170 GB keeps performance and makes the saving a
lower bound. IOPS above 3,000 and throughput above 125 MiB/s are priced in the proposal.
Unattached gp2 volumes are reported too; dedupe keeps the aws.ebs.unattached finding for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot
from cloudios.domain.resource import EBS_VOLUME
from cloudios.modules.aws import _common as common
from cloudios.modules.base import Module, ModuleSpec

GP2_IOPS_PER_GB = 3
GP2_MIN_IOPS = 100
GP2_MAX_IOPS = 16_000
GP2_SMALL_MAX_GB = 170
GP2_SMALL_THROUGHPUT = 128
GP2_LARGE_THROUGHPUT = 250


class Gp2ToGp3Settings(common.AwsSettings):
    """Choices of aws.ebs.gp2_to_gp3."""

    min_size_gb: int = Field(
        default=1,
        ge=1,
        description="Volumes smaller than this (GB) are skipped; tiny volumes save cents.",
    )


SPEC = ModuleSpec(
    name="aws.ebs.gp2_to_gp3",
    provider=Provider.AWS,
    category=Category.MODERNIZE,
    summary="gp2 EBS volumes; proposes gp3 with IOPS max(3000, 3/GB up to 16,000) and "
    "throughput 125 MiB/s (250 above 170 GB), no less than gp2 delivers; extra IOPS and "
    "throughput are priced into the saving.",
    resource_kinds=(EBS_VOLUME,),
    permissions=("ec2:DescribeVolumes",),
    settings=Gp2ToGp3Settings,
)


def gp3_equivalent(size_gb: int) -> tuple[int, int]:
    """(IOPS, throughput MiB/s) of a gp3 volume at least as fast as a gp2 volume of that size."""
    iops = max(common.GP3_INCLUDED_IOPS, min(GP2_IOPS_PER_GB * size_gb, GP2_MAX_IOPS))
    throughput = common.GP3_INCLUDED_THROUGHPUT if size_gb <= GP2_SMALL_MAX_GB else GP2_LARGE_THROUGHPUT
    return iops, throughput


def evaluate(snapshot: Snapshot, settings: Gp2ToGp3Settings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for volume in snapshot.of_kind(EBS_VOLUME):
        size = common.as_int(volume.attr("sizeGb"))
        if volume.attr("volumeType") != "gp2" or size < settings.min_size_gb:
            continue
        baseline = max(GP2_MIN_IOPS, min(GP2_IOPS_PER_GB * size, GP2_MAX_IOPS))
        gp2_throughput = GP2_SMALL_THROUGHPUT if size <= GP2_SMALL_MAX_GB else GP2_LARGE_THROUGHPUT
        iops, throughput = gp3_equivalent(size)
        findings.append(
            common.build_finding(
                SPEC,
                volume,
                action=Action.MODIFY,
                title=f"Change EBS volume {common.label(volume)} ({size} GB) from gp2 to gp3",
                confidence=Confidence.HIGH,
                current={
                    "volumeType": "gp2",
                    "sizeGb": size,
                    "iops": baseline,
                    "throughputMiBps": gp2_throughput,
                },
                proposed={
                    "volumeType": "gp3",
                    "sizeGb": size,
                    "iops": iops,
                    "throughputMiBps": throughput,
                },
                evidence=common.evidence(
                    settings,
                    None,
                    state=volume.attr("state"),
                    attachedTo=volume.attr("attachedTo"),
                    rule="gp3 IOPS = max(3000, 3 x GB capped at 16000); throughput 125 MiB/s up "
                    "to 170 GB, else 250 MiB/s",
                    note="Elastic Volumes changes the type online, without detaching.",
                ),
                current_usage=common.volume_usage(volume.region, "gp2", size, None, None),
                proposed_usage=common.volume_usage(volume.region, "gp3", size, iops, throughput),
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

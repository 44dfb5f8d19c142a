"""aws.ebs.io_to_gp3: io1/io2 volumes whose provisioned IOPS gp3 can give; proposes gp3 with them.

gp3 settings: IOPS = the volume's provisioned IOPS (at least gp3's included 3,000); throughput = the
most io1/io2 deliver at that IOPS (256 KiB per I/O up to 500 MiB/s, AWS's figure for volumes of up
to 32,000 IOPS), at least gp3's included 125 MiB/s, or the volume's reported throughput if higher.
A volume qualifies when its IOPS are at most ``maxIops`` (gp3's ceiling, 16,000), the throughput
fits gp3's 1,000 MiB/s, the IOPS fit gp3's 500 IOPS per GiB, and Multi-Attach is off (gp3 has no
Multi-Attach). Both sides are priced from the usage lines: io1/io2 GB-month plus every provisioned
IOPS, gp3 GB-month plus IOPS above 3,000 and MiB/s above 125.

Confidence: high for io1 (same durability as gp3); medium for io2, whose 99.999% durability gp3
(99.8-99.9%) does not match, and the evidence says so. Both keep the IOPS, not io2's sub-millisecond
latency. Dedupe: removing the volume (aws.ebs.unattached, aws.ebs.stopped_instance,
aws.ebs.low_activity) wins over changing its type.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot
from cloudios.domain.resource import EBS_VOLUME
from cloudios.modules.aws import _common as common
from cloudios.modules.base import Module, ModuleSpec

GP3_MAX_IOPS = 16_000
GP3_MAX_THROUGHPUT = 1_000  # MiB/s
GP3_IOPS_PER_GIB = 500
IO_MIB_PER_IOPS = 0.25  # 256 KiB per I/O
IO_MAX_THROUGHPUT = 500  # MiB/s, io1/io2 up to 32,000 IOPS
IO_TYPES = frozenset({"io1", "io2"})


class IoToGp3Settings(common.AwsSettings):
    """Choices of aws.ebs.io_to_gp3."""

    max_iops: int = Field(
        default=GP3_MAX_IOPS,
        ge=1,
        le=GP3_MAX_IOPS,
        description="Volumes provisioned with more IOPS than this are skipped (gp3 gives at most 16,000).",
    )


SPEC = ModuleSpec(
    name="aws.ebs.io_to_gp3",
    provider=Provider.AWS,
    category=Category.MODERNIZE,
    summary="io1/io2 EBS volumes with at most 16,000 provisioned IOPS; proposes gp3 with the same "
    "IOPS and the throughput io1/io2 delivers at them (within gp3's 1,000 MiB/s); both sides are "
    "priced from GB-month, IOPS and throughput. Multi-Attach volumes are skipped.",
    resource_kinds=(EBS_VOLUME,),
    permissions=("ec2:DescribeVolumes",),
    yields_to=("aws.ebs.unattached", "aws.ebs.stopped_instance", "aws.ebs.low_activity"),
    settings=IoToGp3Settings,
)


def io_throughput(iops: int) -> int:
    """The most an io1/io2 volume of ``iops`` IOPS (up to 32,000) delivers, in MiB/s."""
    return min(IO_MAX_THROUGHPUT, int(iops * IO_MIB_PER_IOPS))


def gp3_equivalent(iops: int, reported_throughput: int | None) -> tuple[int, int]:
    """(IOPS, throughput MiB/s) of a gp3 volume as fast as an io1/io2 volume of ``iops`` IOPS."""
    throughput = max(common.GP3_INCLUDED_THROUGHPUT, io_throughput(iops), reported_throughput or 0)
    return max(common.GP3_INCLUDED_IOPS, iops), throughput


def _blocker(volume_iops: int, size: int, gp3: tuple[int, int], settings: IoToGp3Settings) -> str | None:
    """Why the volume cannot move to gp3 as it is, or None."""
    iops, throughput = gp3
    if volume_iops > settings.max_iops:
        return "IOPS above maxIops"
    if throughput > GP3_MAX_THROUGHPUT:
        return "throughput above gp3's 1,000 MiB/s"
    if throughput > iops * IO_MIB_PER_IOPS:
        return "throughput above gp3's 0.25 MiB/s per IOPS"
    if iops > common.GP3_INCLUDED_IOPS and iops > GP3_IOPS_PER_GIB * size:
        return "IOPS above gp3's 500 per GiB"
    return None


def evaluate(snapshot: Snapshot, settings: IoToGp3Settings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for volume in snapshot.of_kind(EBS_VOLUME):
        volume_type = str(volume.attr("volumeType") or "")
        volume_iops = common.as_int(volume.attr("iops"))
        size = common.as_int(volume.attr("sizeGb"))
        if volume_type not in IO_TYPES or volume_iops <= 0 or size <= 0:
            continue
        if volume.attr("state") not in {"in-use", "available"} or common.as_bool(volume.attr("multiAttach")):
            continue
        reported = common.as_int(volume.attr("throughput")) or None
        iops, throughput = gp3_equivalent(volume_iops, reported)
        if _blocker(volume_iops, size, (iops, throughput), settings) is not None:
            continue
        io2 = volume_type == "io2"
        findings.append(
            common.build_finding(
                SPEC,
                volume,
                action=Action.MODIFY,
                title=f"Change EBS volume {common.label(volume)} ({size} GB, {volume_iops} IOPS) "
                f"from {volume_type} to gp3",
                confidence=Confidence.MEDIUM if io2 else Confidence.HIGH,
                current={
                    "volumeType": volume_type,
                    "sizeGb": size,
                    "iops": volume_iops,
                    "throughputMiBps": max(io_throughput(volume_iops), reported or 0),
                },
                proposed={"volumeType": "gp3", "sizeGb": size, "iops": iops, "throughputMiBps": throughput},
                evidence=common.evidence(
                    settings,
                    None,
                    state=volume.attr("state"),
                    attachedTo=volume.attr("attachedTo"),
                    rule="gp3 IOPS = provisioned IOPS (at least 3000); throughput = what io1/io2 "
                    "delivers at that IOPS (0.25 MiB/s per IOPS up to 500 MiB/s), at least 125",
                    caveat="io2 durability is 99.999%, gp3's 99.8-99.9%; keep io2 where that matters."
                    if io2
                    else None,
                    note="Elastic Volumes changes the type online; gp3 latency is single-digit "
                    "milliseconds, not io2's sub-millisecond.",
                ),
                current_usage=common.volume_usage(volume.region, volume_type, size, volume_iops, None),
                proposed_usage=common.volume_usage(volume.region, "gp3", size, iops, throughput),
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

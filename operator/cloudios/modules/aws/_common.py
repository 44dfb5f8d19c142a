"""Shared pieces of the AWS modules: camelCase settings, finding construction, times, usage lines."""

from __future__ import annotations

from collections.abc import Sequence

from cloudios.domain import Resource, Snapshot, Usage
from cloudios.modules.shared import (
    CamelSettings,
    age_days,
    as_bool,
    as_datetime,
    as_int,
    build_finding,
    created_at,
    day_total,
    days_with_data,
    evidence,
    label,
    min_days_field,
    totals_by_day,
)

__all__ = [
    "CamelSettings",
    "age_days",
    "as_bool",
    "as_datetime",
    "as_int",
    "build_finding",
    "created_at",
    "day_total",
    "days_with_data",
    "evidence",
    "label",
    "min_days_field",
    "totals_by_day",
]

CLOUDWATCH_READ = "cloudwatch:GetMetricData"
LB_ERRORS_READ = (
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
)
"""What the closed loop reads after an EC2 resize is applied, with CLOUDWATCH_READ: the load balancers
sending the instance traffic and their 5xx counts (modules.outcomes, LB_ERRORS)."""
GP3_INCLUDED_IOPS = 3000
GP3_INCLUDED_THROUGHPUT = 125  # MiB/s
MANAGED_TAG_PREFIXES = ("aws:dlm:", "aws:backup:")  # snapshots whose lifecycle policy expires them
UNKNOWN_VOLUME = "vol-ffffffff"  # the VolumeId AWS gives copied snapshots and AMI-registered ones


class AwsSettings(CamelSettings):
    """Settings of an AWS module: camelCase keys in ScanPolicy, snake_case in Python."""


def observed_days(resource: Resource, snapshot: Snapshot, data_days: int, created: str) -> int:
    """Days a sparse counter covers: CloudWatch omits zero periods for ELB and NAT metrics.

    A day without a datapoint inside the resource's lifetime counts as a zero day, so the days
    observed are the whole days the resource existed within the lookback window (or the days with
    data, when the creation time is unknown or shorter).
    """
    age = age_days(created_at(resource, created), snapshot.collected_at)
    if age is None:
        return data_days
    return max(data_days, min(snapshot.lookback_days, int(age)))


def ec2_usage(resource: Resource, instance_type: str) -> Usage:
    """The compute line of a running instance (Windows and other OSes price separately)."""
    os_name = str(resource.attr("platform") or "linux").lower()
    return Usage(
        sku="ec2.instance",
        region=resource.region,
        attributes={"instanceType": instance_type, "os": os_name},
    )


def volume_usage(
    region: str, volume_type: str, size_gb: int, iops: int | None, throughput: int | None
) -> list[Usage]:
    """Billable lines of one EBS volume: GB-month plus provisioned IOPS/throughput when billed.

    io1/io2 bill every provisioned IOPS; gp3 bills IOPS above 3,000 and MiB/s above 125.
    """
    attrs = {"volumeType": volume_type}
    lines = [Usage(sku="ebs.volume", region=region, attributes=attrs, quantity=size_gb)]
    billed_iops = 0
    billed_throughput = 0
    if volume_type in {"io1", "io2"}:
        billed_iops = iops or 0
    elif volume_type == "gp3":
        billed_iops = max(0, (iops or GP3_INCLUDED_IOPS) - GP3_INCLUDED_IOPS)
        billed_throughput = max(0, (throughput or GP3_INCLUDED_THROUGHPUT) - GP3_INCLUDED_THROUGHPUT)
    if billed_iops:
        lines.append(Usage(sku="ebs.iops", region=region, attributes=attrs, quantity=billed_iops))
    if billed_throughput:
        lines.append(Usage(sku="ebs.throughput", region=region, attributes=attrs, quantity=billed_throughput))
    return lines


def volume_billing(volume: Resource) -> tuple[str, int, list[Usage]]:
    """A volume's type, size in GB and billable lines, from its inventory attributes."""
    volume_type = str(volume.attr("volumeType") or "")
    size = as_int(volume.attr("sizeGb"))
    iops = as_int(volume.attr("iops")) or None
    throughput = as_int(volume.attr("throughput")) or None
    return volume_type, size, volume_usage(volume.region, volume_type, size, iops, throughput)


def recurring_peak(maxima: Sequence[float], days: int) -> float:
    """The daily maximum reached on at least ``days`` days (0.0 with fewer days of data)."""
    ranked = sorted(maxima, reverse=True)
    return ranked[days - 1] if len(ranked) >= days else (ranked[-1] if ranked else 0.0)


def managed_snapshot(snap: Resource) -> bool:
    """A snapshot Data Lifecycle Manager or AWS Backup created: its policy already expires it."""
    return any(key.startswith(MANAGED_TAG_PREFIXES) for key in snap.tags)


def source_volume_gone(snap: Resource) -> bool | None:
    """True when the snapshot's source volume no longer exists, None when that is unknown.

    Copied and AMI-registered snapshots carry the placeholder vol-ffffffff: their source is not
    a deleted volume but unknown.
    """
    volume_id = snap.attr("volumeId")
    exists = snap.attr("sourceVolumeExists")
    if not volume_id or volume_id == UNKNOWN_VOLUME or exists is None:
        return None
    return not as_bool(exists)


def rds_usage(db: Resource, db_class: str) -> Usage:
    """The instance line of an RDS DB instance of ``db_class`` (engine and Multi-AZ price it)."""
    return Usage(
        sku="rds.instance",
        region=db.region,
        attributes={
            "dbInstanceClass": db_class,
            "engine": str(db.attr("engine") or ""),
            "multiAz": str(as_bool(db.attr("multiAz"))).lower(),
        },
    )

"""Shared pieces of the AWS modules: camelCase settings, finding construction, times, usage lines."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ConfigDict, Field
from pydantic.alias_generators import to_camel

from cloudios.domain import (
    Action,
    Confidence,
    DailyStat,
    Finding,
    MetricSummary,
    Resource,
    Snapshot,
    Usage,
)
from cloudios.modules.base import ModuleSpec, Settings

CLOUDWATCH_READ = "cloudwatch:GetMetricData"
GP3_INCLUDED_IOPS = 3000
GP3_INCLUDED_THROUGHPUT = 125  # MiB/s


class AwsSettings(Settings):
    """Settings of an AWS module: camelCase keys in ScanPolicy, snake_case in Python."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel)


def min_days_field(default: int = 7) -> Any:
    """The ``minDays`` setting every metric-based module carries."""
    return Field(
        default=default,
        ge=1,
        le=90,
        description="Days with metric data needed before concluding anything; fewer give no "
        "finding. Below 7 days a finding is at most low confidence.",
    )


def build_finding(
    spec: ModuleSpec[Any],
    resource: Resource,
    *,
    action: Action,
    title: str,
    confidence: Confidence,
    current: dict[str, Any],
    proposed: dict[str, Any],
    evidence: dict[str, Any],
    current_usage: Iterable[Usage],
    proposed_usage: Iterable[Usage] = (),
) -> Finding:
    """A finding of ``spec``'s module about ``resource``; savings are left to the pricing step."""
    return Finding(
        id=Finding.make_id(resource.provider, resource.account_id, resource.region, resource.id, spec.name),
        provider=resource.provider,
        account_id=resource.account_id,
        region=resource.region,
        resource_type=resource.kind,
        resource_id=resource.id,
        resource_name=resource.name,
        module=spec.name,
        category=spec.category,
        action=action,
        title=title,
        confidence=confidence,
        current=current,
        proposed=proposed,
        evidence=evidence,
        current_usage=tuple(current_usage),
        proposed_usage=tuple(proposed_usage),
    )


def evidence(
    settings: Settings, days: int | None, summaries: Iterable[MetricSummary] = (), **extra: Any
) -> dict[str, Any]:
    """Evidence every finding carries: days of data (None: inventory only), metrics, thresholds."""
    body: dict[str, Any] = {
        "daysOfData": days,
        "metrics": {s.metric.value: s.evidence() for s in summaries},
        "thresholds": settings.model_dump(mode="json", by_alias=True),
    }
    body.update(extra)
    return body


def label(resource: Resource) -> str:
    """How a title names a resource: its Name tag with the id, or the id."""
    return f"{resource.name} ({resource.id})" if resource.name else resource.id


def as_datetime(value: object) -> datetime | None:
    """A timezone-aware datetime from a datetime or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def age_days(created: datetime | None, now: datetime) -> float | None:
    """Days between ``created`` and ``now`` (fractional), or None when unknown."""
    if created is None:
        return None
    return (now - created).total_seconds() / 86400


def created_at(resource: Resource, attribute: str) -> datetime | None:
    """Creation time from a kind-specific attribute, else the resource's ``created_at``."""
    return as_datetime(resource.attr(attribute)) or as_datetime(resource.created_at)


def days_with_data(summary: MetricSummary) -> list[DailyStat]:
    return [d for d in summary.daily if d.samples > 0]


def day_total(stat: DailyStat) -> float:
    """A counter's total over the day (its sum, else average x samples)."""
    return stat.sum if stat.sum is not None else stat.average * stat.samples


def totals_by_day(*summaries: MetricSummary) -> dict[date, float]:
    """Per UTC day, the summed totals of several counters (days without data left out)."""
    totals: dict[date, float] = {}
    for summary in summaries:
        for stat in days_with_data(summary):
            totals[stat.day] = totals.get(stat.day, 0.0) + day_total(stat)
    return totals


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


def as_int(value: object, default: int = 0) -> int:
    """An integer attribute, tolerant of None and numeric strings."""
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(str(value))
    except ValueError:
        return default


def as_bool(value: object) -> bool:
    """A boolean attribute, tolerant of 'true'/'false' strings."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)

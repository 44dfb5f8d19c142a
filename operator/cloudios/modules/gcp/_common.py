"""Shared pieces of the GCP modules: settings base, permissions, usage lines, ages.

The provider-neutral helpers (finding construction, evidence, labels, time parsing) are the AWS
modules' ones, re-exported here so each GCP module imports one place.
"""

from __future__ import annotations

from datetime import datetime

from cloudios.domain import Resource, Usage
from cloudios.modules.aws._common import AwsSettings as CamelSettings
from cloudios.modules.aws._common import (
    as_datetime,
    build_finding,
    days_with_data,
    evidence,
    label,
    min_days_field,
    totals_by_day,
)

__all__ = [
    "MONITORING_READ",
    "CamelSettings",
    "GcpSettings",
    "build_finding",
    "days_with_data",
    "evidence",
    "label",
    "min_days_field",
    "totals_by_day",
]

MONITORING_READ = "monitoring.timeSeries.list"
GIB = 1024**3


class GcpSettings(CamelSettings):
    """Settings of a GCP module: camelCase keys in ScanPolicy, snake_case in Python."""


def days_since(resource: Resource, now: datetime, *attributes: str) -> float | None:
    """Days since the latest of the given timestamp attributes (else creation), or None when unknown."""
    moments = [m for a in attributes if (m := as_datetime(resource.attr(a))) is not None]
    moment = max(moments) if moments else as_datetime(resource.created_at)
    return None if moment is None else (now - moment).total_seconds() / 86400


def instance_usage(resource: Resource, machine_type: str) -> Usage:
    """The compute line of a running VM (vCPU and memory of its machine type)."""
    return Usage(sku="gce.instance", region=resource.region, attributes={"machineType": machine_type})

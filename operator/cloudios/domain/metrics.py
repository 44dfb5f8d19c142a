"""Metric summaries: per resource, metric and UTC day, the statistics modules decide on."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_serializer, model_validator

from cloudios.domain.series import DailyColumns, DailyStat

__all__ = ["DailyColumns", "DailyStat", "Metric", "MetricSummary"]


class Metric(StrEnum):
    """Canonical metric names; each provider maps them to its own API (CloudWatch, ...)."""

    CPU_UTILIZATION = "cpu_utilization"  # percent 0-100
    NETWORK_IN_BYTES = "network_in_bytes"
    NETWORK_OUT_BYTES = "network_out_bytes"
    DB_CONNECTIONS = "db_connections"
    REQUEST_COUNT = "request_count"  # ALB requests, NLB new flows
    LB_TARGET_5XX_COUNT = "lb_target_5xx_count"  # ALB: 5xx answers of the targets (no NLB equivalent)
    LB_5XX_COUNT = "lb_5xx_count"  # ALB: 5xx answers of the load balancer itself (no NLB equivalent)
    NAT_BYTES_OUT = "nat_bytes_out"  # to destination
    NAT_BYTES_IN = "nat_bytes_in"  # from destination
    VOLUME_READ_OPS = "volume_read_ops"
    VOLUME_WRITE_OPS = "volume_write_ops"
    MEMORY_AVAILABLE_BYTES = "memory_available_bytes"  # free memory, where the cloud measures it (RDS)
    MEMORY_USED_PERCENT = "memory_used_percent"  # percent 0-100, CloudWatch agent (CWAgent)
    CPU_MILLICORES = "cpu_millicores"  # Kubernetes container CPU use, agent-sampled
    MEMORY_WORKING_SET_BYTES = "memory_working_set_bytes"  # Kubernetes container working set


_DAY = TypeAdapter(DailyStat)


def _columns(value: object) -> DailyColumns:
    if isinstance(value, DailyColumns):
        return value
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes, Mapping)):
        raise TypeError("daily must be a sequence of days")
    return DailyColumns(d if isinstance(d, DailyStat) else _DAY.validate_python(d) for d in value)


class MetricSummary(BaseModel):
    """All days of one metric for one resource over the lookback window.

    The days are stored as compact columns (``DailyColumns``); ``daily`` gives them as
    ``DailyStat`` views, built on access. Construct with ``daily=`` (DailyStat objects or mappings).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    resource_id: str
    metric: Metric
    lookback_days: int
    columns: DailyColumns = Field(default_factory=DailyColumns, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _daily_to_columns(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            fields = dict(data)
            raw = fields.pop("daily", fields.pop("columns", ()))
            fields["columns"] = _columns(raw)
            return fields
        return data

    @field_serializer("columns")
    def _dump_columns(self, columns: DailyColumns) -> list[dict[str, Any]]:
        return [dataclasses.asdict(d) for d in columns]

    @property
    def daily(self) -> tuple[DailyStat, ...]:
        """The days, oldest first, as DailyStat views."""
        return tuple(self.columns)

    @property
    def days_with_data(self) -> int:
        return self.columns.days_with_data()

    @property
    def average(self) -> float:
        """Sample-weighted mean over the window (0.0 without data)."""
        return self.columns.weighted_average()

    @property
    def maximum(self) -> float:
        return self.columns.maximum()

    @property
    def daily_sums(self) -> list[float]:
        return [d.sum if d.sum is not None else d.average * d.samples for d in self.columns]

    def percentile_of_daily(self, q: float, field: str = "p95") -> float:
        """The q-th percentile (0-100) across days of a daily statistic, nearest-rank."""
        values = sorted(
            v
            for d in self.columns
            if d.samples > 0
            and (v := getattr(d, field) if getattr(d, field) is not None else d.maximum) is not None
        )
        if not values:
            return 0.0
        rank = max(1, math.ceil(q / 100 * len(values)))
        return float(values[rank - 1])

    def evidence(self) -> dict[str, object]:
        """Compact evidence for a finding: window statistics, not the raw days."""
        return {
            "metric": self.metric.value,
            "daysWithData": self.days_with_data,
            "lookbackDays": self.lookback_days,
            "average": round(self.average, 4),
            "maximum": round(self.maximum, 4),
            "p95OfDailyP95": round(self.percentile_of_daily(95), 4),
            "p95OfDailyHigh": round(self.percentile_of_daily(95, "high"), 4),
            "samples": self.columns.samples(),
        }

"""Metric summaries: per resource, metric and UTC day, the statistics modules decide on."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Metric(StrEnum):
    """Canonical metric names; each provider maps them to its own API (CloudWatch, ...)."""

    CPU_UTILIZATION = "cpu_utilization"  # percent 0-100
    NETWORK_IN_BYTES = "network_in_bytes"
    NETWORK_OUT_BYTES = "network_out_bytes"
    DB_CONNECTIONS = "db_connections"
    REQUEST_COUNT = "request_count"  # ALB requests, NLB new flows
    NAT_BYTES_OUT = "nat_bytes_out"  # to destination
    NAT_BYTES_IN = "nat_bytes_in"  # from destination
    VOLUME_READ_OPS = "volume_read_ops"
    VOLUME_WRITE_OPS = "volume_write_ops"
    MEMORY_AVAILABLE_BYTES = "memory_available_bytes"  # free memory, where the cloud measures it


@dataclass(frozen=True, slots=True)
class DailyStat:
    """One UTC day of one metric for one resource.

    A slotted dataclass rather than a pydantic model: a 90-day scan of a large account holds
    millions of these, and this form takes 160 bytes a day instead of about 1,160 (measured with
    tracemalloc). Pydantic still validates them inside MetricSummary when given as mappings.

    - ``average``: mean of the raw datapoints of the day
    - ``maximum``: highest raw datapoint of the day
    - ``p95``: 95th percentile, where the API offers it (older snapshots and other providers)
    - ``p99``: 99th percentile, where the API offers it (what the AWS provider asks for: it sees a
      daily one-hour batch, which a p95 of 5-minute datapoints hides)
    - ``sum``: sum over the day, for counters
    - ``samples``: number of raw datapoints behind the day
    - ``minimum``: lowest raw datapoint of the day, where a module needs it (free memory)
    """

    day: date
    average: float
    maximum: float
    p95: float | None = None
    sum: float | None = None
    samples: int = 0
    p99: float | None = None
    minimum: float | None = None

    def __post_init__(self) -> None:
        if self.samples < 0:
            raise ValueError(f"samples must be >= 0, got {self.samples}")

    @property
    def high(self) -> float:
        """The day's high percentile: p99 where fetched, else p95, else the maximum."""
        if self.p99 is not None:
            return self.p99
        return self.p95 if self.p95 is not None else self.maximum


class MetricSummary(BaseModel):
    """All days of one metric for one resource over the lookback window."""

    model_config = ConfigDict(frozen=True)

    resource_id: str
    metric: Metric
    lookback_days: int
    daily: tuple[DailyStat, ...] = ()

    @property
    def days_with_data(self) -> int:
        return sum(1 for d in self.daily if d.samples > 0)

    @property
    def average(self) -> float:
        """Sample-weighted mean over the window (0.0 without data)."""
        total = sum(d.samples for d in self.daily)
        if total == 0:
            return 0.0
        return sum(d.average * d.samples for d in self.daily) / total

    @property
    def maximum(self) -> float:
        return max((d.maximum for d in self.daily if d.samples > 0), default=0.0)

    @property
    def daily_sums(self) -> list[float]:
        return [d.sum if d.sum is not None else d.average * d.samples for d in self.daily]

    def percentile_of_daily(self, q: float, field: str = "p95") -> float:
        """The q-th percentile (0-100) across days of a daily statistic, nearest-rank."""
        values = sorted(
            v
            for d in self.daily
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
            "samples": sum(d.samples for d in self.daily),
        }

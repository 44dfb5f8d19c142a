"""Synthetic hourly CloudWatch series for the sample estate, and a batching PutMetricData writer.

Profiles produce one value per hour. How a day's 24 hourly values reach the emulator
(``Granularity``):

* ``daily-stats`` (default): one ``StatisticValues`` datum per day (SampleCount 24, Sum, Minimum,
  Maximum of the hourly values). At ``Period=86400`` CloudWatch statistics are exactly those of
  the 24 points, and moto stores and scans one datum instead of 24 (its GetMetricData cost is
  per stored datum).
* ``daily-values``: one datum per day carrying the 24 values (``Values``), stamped at midnight.
* ``hourly``: one datum per hour with its own timestamp.

Only works against an emulator: real CloudWatch reserves the ``AWS/`` namespaces.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple

from cloudios.emulators.aws.truth import GRAVITON, IDLE, PREVGEN, RIGHTSIZE

HOURS = 24
MAX_DATUMS_PER_CALL = 1000
KB = 1024.0
MB = 1024.0 * KB
GIB = 1024.0 * MB

Granularity = Literal["daily-stats", "daily-values", "hourly"]
Hourly = Callable[[random.Random, int], float]
"""(rng, hour index since the window start) -> value for that hour."""


def _diurnal(hour: int) -> float:
    return math.sin((hour % HOURS) / HOURS * 2 * math.pi)


def cpu_busy(rng: random.Random, hour: int) -> float:
    """Steady 40-80 %: a web tier with a daily rhythm."""
    return min(80.0, max(40.0, 60.0 + 14.0 * _diurnal(hour) + rng.uniform(-6, 6)))


def cpu_idle(rng: random.Random, _hour: int) -> float:
    """Below 2 %: agents and cron, nothing else."""
    return rng.uniform(0.2, 1.6)


def cpu_bursty(rng: random.Random, hour: int) -> float:
    """Near zero except a nightly batch at ~90 % for two hours: NOT idle."""
    return rng.uniform(88.0, 95.0) if hour % HOURS in (2, 3) else rng.uniform(0.3, 1.0)


def cpu_daily_batch(rng: random.Random, hour: int) -> float:
    """8-15 % all day, then a one-hour batch at ~92 %: oversized on average, NOT one size down."""
    return rng.uniform(88.0, 95.0) if hour % HOURS == 1 else rng.uniform(8.0, 15.0)


def cpu_oversized(rng: random.Random, _hour: int) -> float:
    """10-25 %: a large instance doing a small instance's work (rightsize)."""
    return rng.uniform(10.0, 25.0)


def cpu_healthy(rng: random.Random, hour: int) -> float:
    """45-75 %: well used, so only its generation is a finding."""
    return min(75.0, max(45.0, 60.0 + 10.0 * _diurnal(hour) + rng.uniform(-5, 5)))


def rate(low: float, high: float) -> Hourly:
    """Uniform per-hour amount in [low, high] (bytes, requests, connections)."""
    return lambda rng, _hour: rng.uniform(low, high)


def bursty_rate(quiet: float, burst: float) -> Hourly:
    return lambda rng, hour: rng.uniform(0.5, 1.0) * (burst if hour % HOURS in (2, 3) else quiet)


@dataclass(frozen=True)
class Series:
    """One CloudWatch series to seed over the last ``days`` days of the window."""

    namespace: str
    name: str
    dimension: str
    value: str
    hourly: Hourly
    days: int | None = None  # None: the whole window


@dataclass
class MetricWriter:
    """Batches PutMetricData datums (<= 1000 per call, one namespace per call)."""

    client: Any
    granularity: Granularity = "daily-stats"
    calls: int = 0
    datapoints: int = 0
    _pending: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def put_day(
        self,
        namespace: str,
        name: str,
        dims: Sequence[tuple[str, str]],
        day: datetime,
        values: Sequence[float],
    ) -> None:
        """Queue the hourly ``values`` of the day starting at ``day``."""
        if self.granularity == "daily-stats":
            self.put_stats(
                namespace,
                name,
                dims,
                day,
                samples=len(values),
                total=sum(values),
                low=min(values),
                high=max(values),
            )
            return
        dimensions = [{"Name": k, "Value": v} for k, v in dims]
        self.datapoints += len(values)
        if self.granularity == "hourly":
            for hour, value in enumerate(values):
                self._add(
                    namespace,
                    {
                        "MetricName": name,
                        "Dimensions": dimensions,
                        "Timestamp": day + timedelta(hours=hour),
                        "Value": value,
                    },
                )
        else:
            self._add(
                namespace,
                {"MetricName": name, "Dimensions": dimensions, "Timestamp": day, "Values": list(values)},
            )

    def put_stats(
        self,
        namespace: str,
        name: str,
        dims: Sequence[tuple[str, str]],
        day: datetime,
        *,
        samples: int,
        total: float,
        low: float,
        high: float,
    ) -> None:
        """Queue one pre-aggregated day (``StatisticValues``): the cheapest way to seed."""
        self.datapoints += samples
        self._add(
            namespace,
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                "Timestamp": day,
                "StatisticValues": {"SampleCount": samples, "Sum": total, "Minimum": low, "Maximum": high},
            },
        )

    def _add(self, namespace: str, datum: dict[str, Any]) -> None:
        batch = self._pending.setdefault(namespace, [])
        batch.append(datum)
        if len(batch) >= MAX_DATUMS_PER_CALL:
            self._send(namespace)

    def _send(self, namespace: str) -> None:
        batch = self._pending.pop(namespace, [])
        if batch:
            self.client.put_metric_data(Namespace=namespace, MetricData=batch)
            self.calls += 1

    def flush(self) -> None:
        for namespace in list(self._pending):
            self._send(namespace)


def seed_series(
    writer: MetricWriter, series: Sequence[Series], rng: random.Random, start: datetime, days: int
) -> None:
    """Generate and queue every series, day by day, over ``[start, start + days)``."""
    for s in series:
        span = min(days, s.days) if s.days is not None else days
        for d in range(days - span, days):
            day = start + timedelta(days=d)
            values = [s.hourly(rng, d * HOURS + h) for h in range(HOURS)]
            writer.put_day(s.namespace, s.name, [(s.dimension, s.value)], day, values)
    writer.flush()


class Fleet(NamedTuple):
    """A group of sample instances that behave alike."""

    profile: str
    types: tuple[str, ...]  # cycled through
    cpu: Hourly
    network: Hourly  # bytes per hour, each direction
    root: str  # root volume type
    expected: str | None
    per_region: int  # at scale 1
    windows: bool = False  # launched from a Windows AMI (platform windows)


# Per region at scale 1; labels follow the expectations in truth's docstring.
INSTANCE_FLEETS = (
    Fleet(
        "busy",
        ("m5.xlarge", "c5.2xlarge", "r5.large"),
        cpu_busy,
        rate(50 * MB, 500 * MB),
        "gp3",
        GRAVITON,
        3,
    ),
    Fleet(
        "busy-arm", ("m6g.xlarge", "c7g.large", "i3.large"), cpu_busy, rate(50 * MB, 500 * MB), "gp3", None, 3
    ),
    Fleet(
        "busy-windows",
        ("m5.xlarge", "c5.xlarge"),
        cpu_busy,
        rate(50 * MB, 500 * MB),
        "gp3",
        None,
        2,
        windows=True,
    ),
    Fleet(
        "idle",
        ("m5.large", "t2.medium", "c5.xlarge"),
        cpu_idle,
        rate(1 * KB, 20 * KB),
        "gp3",
        IDLE,
        3,
    ),
    Fleet(
        "bursty",
        ("c5.2xlarge", "m5.2xlarge"),
        cpu_bursty,
        bursty_rate(10 * KB, 80 * MB),
        "gp3",
        GRAVITON,
        2,
    ),
    Fleet(
        "oversized",
        ("m5.4xlarge", "r5.2xlarge", "m4.4xlarge"),
        cpu_oversized,
        rate(5 * MB, 50 * MB),
        "gp3",
        RIGHTSIZE,
        3,
    ),
    Fleet(
        "prevgen",
        ("m4.xlarge", "c4.2xlarge", "r4.large"),
        cpu_healthy,
        rate(20 * MB, 200 * MB),
        "gp2",
        PREVGEN,
        3,
    ),
    Fleet(
        "idle-windows",
        ("m5.large", "c5.xlarge"),
        cpu_idle,
        rate(1 * KB, 20 * KB),
        "gp3",
        IDLE,
        2,
        windows=True,
    ),
    Fleet(
        "batch-oversized",
        ("m5.2xlarge", "r5.2xlarge"),
        cpu_daily_batch,
        rate(5 * MB, 50 * MB),
        "gp3",
        GRAVITON,
        2,
    ),
    Fleet("thin", ("m5.large",), cpu_idle, rate(1 * KB, 5 * KB), "gp3", None, 1),
    Fleet("stopped", ("m5.large",), cpu_idle, rate(0, 0), "gp3", None, 1),  # for 35-200 days
    Fleet("stopped-recently", ("m5.large",), cpu_idle, rate(0, 0), "gp3", None, 1),  # 5 days ago
)

# Extra volumes per region at scale 1: (type, I/O profile or None = unattached, IOPS, Multi-Attach).
VOLUME_PLAN: tuple[tuple[str, str | None, int | None, bool], ...] = (
    ("gp2", "busy", None, False),
    ("gp2", "busy", None, False),
    ("gp3", "busy", None, False),
    ("gp2", None, None, False),
    ("gp2", None, None, False),
    ("gp3", None, None, False),
    ("io1", "busy", 4000, False),
    ("io2", "busy", 8000, False),
    ("io2", "busy", 20000, False),  # above gp3's 16,000 IOPS: stays io2
    ("io2", "busy", 5000, True),  # Multi-Attach: gp3 has none
    ("io1", None, 3000, False),  # unattached: deleted, not converted
    ("gp3", "quiet", None, False),
    ("gp2", "quiet", None, False),  # deleted, not converted
    ("gp3", "moderate", None, False),  # 500-1,400 operations a day: in use
    ("gp3", "quiet-thin", None, False),  # 3 days of data: no finding
)
IO_RATES: dict[str, Hourly] = {
    "busy": rate(1e4, 2e5),
    "quiet": rate(0, 1.5),  # at most 72 read+write operations a day
    "quiet-thin": rate(0, 1.5),
    "moderate": rate(20, 60),
}

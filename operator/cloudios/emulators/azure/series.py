"""Daily Azure Monitor aggregates (average, maximum, minimum, total, count) from an estate's metric specs.

Each series is reproducible: its random stream is seeded from the resource id and metric name.
Patterns, per day (level L, peak P; percent metrics are scaled to 0-100):

* ``idle``: average L x (0.7-1.3), maximum up to P (default 4 L);
* ``steady``: average L x (0.9-1.1), maximum average x 1.3-1.8 (at most P when given);
* ``batch``: average L x (0.9-1.1), maximum P every day (a nightly job);
* ``bursty``: average L x (0.8-1.2), maximum P on ~60% of days, else average x 2.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta

from cloudios.emulators.azure.estate import DayValues, EstateResource, MetricSpec
from cloudios.modules.azure import catalog

SAMPLES_PER_DAY = 1440  # Azure VM platform metrics: one sample a minute
GIB = 1024**3
DEFAULT_MEMORY_GIB = 16.0


@dataclass(frozen=True, slots=True)
class Day:
    """One day of one metric of one resource, as Azure Monitor aggregates it at P1D."""

    day: date
    average: float
    maximum: float
    minimum: float
    total: float
    count: int


def _rng(resource_id: str, metric: str) -> random.Random:
    digest = hashlib.sha256(f"{resource_id.lower()}|{metric}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # noqa: S311 - synthetic data


def memory_gib(resource: EstateResource) -> float:
    """The VM's memory: its ``memoryGib`` attribute, the size catalog, or 16 GiB."""
    given = resource.attributes.get("memoryGib")
    if isinstance(given, int | float):
        return float(given)
    size = catalog.describe(str(resource.attributes.get("vmSize") or ""))
    return size.memory_gib if size is not None else DEFAULT_MEMORY_GIB


def _pattern_day(spec: MetricSpec, rng: random.Random) -> tuple[float, float]:
    """(average, maximum) in the spec's own units for one day."""
    level = spec.level or 0.0
    if spec.pattern == "batch":
        average = level * rng.uniform(0.9, 1.1)
        return average, max(average, spec.peak if spec.peak is not None else level * 8)
    if spec.pattern == "bursty":
        average = level * rng.uniform(0.8, 1.2)
        burst = rng.random() < 0.6  # noqa: PLR2004 - share of bursty days
        peak = spec.peak if spec.peak is not None else level * 8
        return average, max(average, peak if burst else average * 2)
    if spec.pattern == "steady":
        average = level * rng.uniform(0.9, 1.1)
        maximum = average * rng.uniform(1.3, 1.8)
        return average, min(maximum, spec.peak) if spec.peak is not None else maximum
    average = level * rng.uniform(0.7, 1.3)  # idle, and the default
    ceiling = spec.peak if spec.peak is not None else level * 4
    return average, max(average, rng.uniform(average, max(average, ceiling)))


def daily(resource: EstateResource, metric: str, end: date, lookback_days: int) -> list[Day]:
    """The days of ``metric`` with data in ``[end - lookback_days, end)``, oldest first."""
    spec = resource.metrics.get(metric)
    if spec is None:
        return []
    rng = _rng(resource.id, metric)
    values: list[tuple[float, float, float | None, float | None, int | None]] = []
    if spec.daily is not None:
        for item in spec.daily:
            value = item if isinstance(item, DayValues) else DayValues(average=float(item))
            values.append(
                (value.average, value.maximum or value.average, value.minimum, value.total, value.count)
            )
    else:
        days = min(spec.days if spec.days is not None else lookback_days, lookback_days)
        values = [(*_pattern_day(spec, rng), None, None, None) for _ in range(days)]
    values = values[-lookback_days:]
    first = end - timedelta(days=len(values))
    return [
        _scaled(
            resource,
            metric,
            first + timedelta(days=i),
            average=average,
            maximum=maximum,
            minimum=minimum,
            total=total,
            count=count,
        )
        for i, (average, maximum, minimum, total, count) in enumerate(values)
    ]


def _scaled(
    resource: EstateResource,
    metric: str,
    day: date,
    *,
    average: float,
    maximum: float,
    minimum: float | None,
    total: float | None,
    count: int | None,
) -> Day:
    samples = count or SAMPLES_PER_DAY
    if metric == "percentage_cpu":
        avg, top = min(100.0, average * 100), min(100.0, maximum * 100)
        low = avg / 2 if minimum is None else minimum * 100
        return Day(day, avg, top, low, avg * samples, samples)
    if metric == "available_memory_bytes":
        size = memory_gib(resource) * GIB
        free = max(0.0, (1 - average) * size)
        least = max(0.0, (1 - maximum) * size) if minimum is None else minimum
        return Day(day, free, free, least, free * samples, samples)
    # network_*_total: the level is bytes per day; per-minute samples sum to it.
    per_day = average if total is None else total
    per_minute = per_day / samples
    return Day(day, per_minute, max(per_minute, maximum / samples * 4), 0.0, per_day, samples)

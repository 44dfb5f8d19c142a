"""Container usage over the lookback window: the agent's summaries merged, never a quantile of quantiles.

The store hands hourly and daily summaries, sampled by the agent (``metrics-api``) or backfilled
from Prometheus (``prometheus``), each with a mergeable sketch. Per container and UTC day:

- an hour reported by both sources counts once, the agent's own samples preferred;
- a day is built from its hourly summaries when they hold at least as many samples as the day's
  daily summary (hourly rows may have been rolled up), otherwise from the daily summary;
- the window's quantiles come from merging the days' sketches (2 % relative accuracy).

Hours with data are the hours with at least one sample; a day known only from a daily summary
counts 24 hours (an upper bound: its hours are no longer known).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from cloudios.domain import DailyStat
from cloudios_agent.sketch import Sketch
from cloudios_agent.wire import ContainerUsage, Summary

Key = tuple[str, str, str, str]
"""(namespace, workload kind, workload name, container)."""
_PREFERENCE = {"metrics-api": 0, "prometheus": 1}
_HOURS_PER_DAY = 24
K = TypeVar("K", bound=date)


@dataclass
class _Day:
    cpu: Sketch = field(default_factory=Sketch)
    memory: Sketch = field(default_factory=Sketch)
    hours: int = 0


@dataclass(frozen=True)
class ContainerWindow:
    """One container's usage over the window: per-day stats and merged window statistics."""

    cpu_daily: tuple[DailyStat, ...]
    memory_daily: tuple[DailyStat, ...]
    cpu: dict[str, Any]
    memory: dict[str, Any]
    hours_with_data: int
    first_usage_at: datetime
    last_usage_at: datetime


def summarize(
    rows: Iterable[ContainerUsage], *, start: datetime, end: datetime
) -> dict[Key, ContainerWindow]:
    """Every container's window from the rows starting in [start, end)."""
    hourly: dict[Key, dict[datetime, ContainerUsage]] = defaultdict(dict)
    daily: dict[Key, dict[date, ContainerUsage]] = defaultdict(dict)
    for row in rows:
        begins = row.start.astimezone(UTC)
        if not start <= begins < end:
            continue
        key = (row.namespace, row.workload_kind, row.workload_name, row.container)
        if row.period == "hour":
            _keep_preferred(hourly[key], begins, row)
        else:
            _keep_preferred(daily[key], begins.date(), row)
    return {
        key: window
        for key in hourly.keys() | daily.keys()
        if (window := _window(hourly.get(key, {}), daily.get(key, {}))) is not None
    }


def _keep_preferred(slots: dict[K, ContainerUsage], at: K, row: ContainerUsage) -> None:
    found = slots.get(at)
    if found is None or _PREFERENCE.get(row.source, 9) < _PREFERENCE.get(found.source, 9):
        slots[at] = row


def _window(
    hours: dict[datetime, ContainerUsage], days: dict[date, ContainerUsage]
) -> ContainerWindow | None:
    by_day: dict[date, list[ContainerUsage]] = defaultdict(list)
    for begins, row in hours.items():
        by_day[begins.date()].append(row)
    built: dict[date, _Day] = {}
    for day in sorted(by_day.keys() | days.keys()):
        from_hours = by_day.get(day, [])
        whole = days.get(day)
        if whole is not None and whole.cpu.samples > sum(r.cpu.samples for r in from_hours):
            built[day] = _Day(
                _copy(whole.cpu), _copy(whole.memory), _HOURS_PER_DAY if whole.cpu.samples else 0
            )
            continue
        merged = _Day()
        for row in from_hours:
            merged.cpu.merge(row.cpu.sketch)
            merged.memory.merge(row.memory.sketch)
            merged.hours += 1 if row.cpu.samples else 0
        built[day] = merged
    built = {d: b for d, b in built.items() if b.cpu.count or b.memory.count}
    if not built:
        return None
    cpu, memory = Sketch(), Sketch()
    for b in built.values():
        cpu.merge(b.cpu)
        memory.merge(b.memory)
    first, last = min(built), max(built)
    return ContainerWindow(
        cpu_daily=tuple(_stat(d, b.cpu) for d, b in sorted(built.items())),
        memory_daily=tuple(_stat(d, b.memory) for d, b in sorted(built.items())),
        cpu=window_stats(cpu),
        memory=window_stats(memory),
        hours_with_data=sum(b.hours for b in built.values()),
        first_usage_at=datetime(first.year, first.month, first.day, tzinfo=UTC),
        last_usage_at=datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1),
    )


def _copy(summary: Summary) -> Sketch:
    sketch = Sketch()
    sketch.merge(summary.sketch)
    return sketch


def _stat(day: date, sketch: Sketch) -> DailyStat:
    return DailyStat(
        day=day,
        average=sketch.mean or 0.0,
        maximum=sketch.max,
        p95=sketch.quantile(0.95),
        p99=sketch.quantile(0.99),
        samples=sketch.count,
    )


def window_stats(sketch: Sketch) -> dict[str, Any]:
    """{samples, avg, max, p50, p90, p95, p99} of a merged sketch (quantiles rounded to 3 places)."""
    quantiles = {f"p{int(q * 100)}": round(sketch.quantile(q) or 0.0, 3) for q in (0.5, 0.9, 0.95, 0.99)}
    return {
        "samples": sketch.count,
        "avg": round(sketch.mean or 0.0, 3),
        "max": round(sketch.max, 3),
        **quantiles,
    }

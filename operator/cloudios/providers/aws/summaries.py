"""Answered GetMetricData batches -> one MetricSummary per series, kept as compact columns.

A series' statistics are asked together, so they sit in one batch or straddle two; the
summarizer keeps a series' rows only until its last statistic has answered, then builds its
``DailyColumns`` straight from the rows (no ``DailyStat`` objects in between).

A day counts when it has a SampleCount > 0, a Maximum and its mean statistic (Average for
gauges, Sum for counters, whose average is ``Sum / SampleCount``: CloudWatch's own definition).
Days without datapoints are omitted.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cloudios.domain import DailyColumns, Metric, MetricSummary
from cloudios.providers.aws.metrics import PERCENTILE, BatchDays, CloudWatchMetric


@dataclass
class _Series:
    source: CloudWatchMetric
    rows: dict[str, array[float]] = field(default_factory=dict)
    asked_percentile: bool = False


class Summarizer:
    """Builds metric summaries batch by batch; feed it from one thread.

    A series is finished as soon as all its statistics have answered; ``finish`` closes whatever
    is left (a series whose statistics never all came back).
    """

    def __init__(self, start: datetime, lookback_days: int) -> None:
        self.lookback_days = lookback_days
        self.summaries: dict[str, dict[Metric, MetricSummary]] = {}
        self.missing_percentile = 0
        self._first = start.date().toordinal()  # start is UTC midnight
        self._open: dict[tuple[str, Metric], _Series] = {}

    @property
    def open_series(self) -> int:
        """Series with some statistics answered and others still to come."""
        return len(self._open)

    def add(self, batch: BatchDays) -> None:
        for i, query in enumerate(batch.queries):
            key = (query.resource_id, query.metric)
            series = self._open.get(key)
            if series is None:
                series = self._open[key] = _Series(query.source)
            series.rows[query.stat] = batch.row(i)
            series.asked_percentile |= batch.percentiles and query.stat == PERCENTILE
            if len(series.rows) >= len(query.source.statistics):
                self._close(key)

    def finish(self) -> dict[str, dict[Metric, MetricSummary]]:
        for key in list(self._open):
            self._close(key)
        return self.summaries

    def _close(self, key: tuple[str, Metric]) -> None:
        series = self._open.pop(key)
        columns, has_percentile = daily_columns(series.rows, counter=series.source.counter, first=self._first)
        if series.asked_percentile and len(columns) and not has_percentile:
            self.missing_percentile += 1
        resource_id, metric = key
        self.summaries.setdefault(resource_id, {})[metric] = MetricSummary(
            resource_id=resource_id, metric=metric, lookback_days=self.lookback_days, columns=columns
        )


def daily_columns(
    rows: Mapping[str, array[float]], *, counter: bool, first: int
) -> tuple[DailyColumns, bool]:
    """The days of one series from its statistics' rows (row index + ``first`` = day ordinal),
    and whether any kept day has a percentile."""
    count, high = rows.get("SampleCount"), rows.get("Maximum")
    mean = rows.get("Sum" if counter else "Average")
    if count is None or high is None or mean is None:
        return DailyColumns(), False
    keep = [
        i
        for i, n in enumerate(count)
        if not math.isnan(n) and round(n) > 0 and not math.isnan(high[i]) and not math.isnan(mean[i])
    ]

    def pick(stat: str) -> array[float] | None:
        row = rows.get(stat)
        return None if row is None else array("d", [row[i] for i in keep])

    samples = array("I", [round(count[i]) for i in keep])
    if counter:
        total, average = pick("Sum"), None
        if any(count[i] != n for i, n in zip(keep, samples, strict=True)):  # fractional SampleCount
            average = array("d", [mean[i] / count[i] for i in keep])
    else:
        total, average = None, pick("Average")
    p99 = pick(PERCENTILE)
    columns = DailyColumns.from_arrays(
        array("i", [first + i for i in keep]),
        samples,
        array("d", [high[i] for i in keep]),
        average=average,
        sum=total,
        p99=p99,
        minimum=pick("Minimum"),
    )
    return columns, p99 is not None and any(not math.isnan(v) for v in p99)

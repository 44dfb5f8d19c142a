"""Indexed reads over moto's stored CloudWatch datapoints: the arithmetic behind the patches.

Datapoints stay in moto's own list; an index per backend keeps them by (namespace, metric,
dimensions) in time order, so a query touches only its own series. Statistics follow moto's
``Statistics`` class operation for operation, so answers are identical.
"""

from __future__ import annotations

import bisect
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

_BASIC_STATS = frozenset({"Sum", "Average", "Minimum", "Maximum", "SampleCount"})
_index_lock = threading.Lock()


def utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _dim_key(dimensions: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((d.name, d.value) for d in dimensions))


class _Index:
    """Datapoints of one backend by (namespace, name, dimensions), each list sorted by time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.indexed = 0
        self.series: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[tuple[datetime, Any]]] = {}
        self.by_name: dict[tuple[str, str], set[tuple[tuple[str, str], ...]]] = {}
        self.unsorted: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()

    def refresh(self, stored: list[Any]) -> None:
        if len(stored) < self.indexed:  # the list was replaced or cleared: start over
            self.__init__()  # type: ignore[misc]
        for datum in stored[self.indexed :]:
            dims = _dim_key(datum.dimensions)
            key = (datum.namespace, datum.name, dims)
            self.series.setdefault(key, []).append((utc(datum.timestamp), datum))
            self.by_name.setdefault((datum.namespace, datum.name), set()).add(dims)
            self.unsorted.add(key)
        self.indexed = len(stored)
        for key in self.unsorted:
            self.series[key].sort(key=lambda item: item[0])
        self.unsorted.clear()


def _index(backend: Any) -> _Index:
    with _index_lock:
        index = backend.__dict__.get("_cloudios_index")
        if index is None:
            index = _Index()
            backend._cloudios_index = index  # noqa: SLF001
    return index  # type: ignore[no-any-return]


def _select(
    backend: Any,
    namespace: str,
    name: str,
    dims: tuple[tuple[str, str], ...],
    *,
    subset: bool,
    computed: list[Any],
    index: _Index,
) -> list[tuple[datetime, Any]]:
    """Datapoints of a series (``subset``: of every series whose dimensions include ``dims``)."""
    with index.lock:
        index.refresh(backend.metric_data)
        if subset:
            wanted = set(dims)
            keys = [d for d in index.by_name.get((namespace, name), ()) if wanted <= set(d)]
        else:
            keys = [dims] if dims in index.by_name.get((namespace, name), ()) else []
        found = [item for k in keys for item in index.series[(namespace, name, k)]]
    extra = [
        (utc(md.timestamp), md)
        for md in computed
        if md.namespace == namespace
        and md.name == name
        and (set(dims) <= set(_dim_key(md.dimensions)) if subset else _dim_key(md.dimensions) == dims)
    ]
    if extra or len(keys) > 1:
        found = sorted(found + extra, key=lambda item: item[0])
    return found


def metric_data(
    backend: Any,
    *,
    queries: list[dict[str, Any]],
    start_time: datetime,
    end_time: datetime,
    scan_by: str,
    page_datapoints: int,
    next_token: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    from moto.cloudwatch.exceptions import ValidationError  # noqa: PLC0415
    from moto.cloudwatch.models import MetricAggregatedDatum as aggregated  # noqa: PLC0415, N813

    start = utc(start_time).replace(microsecond=0)
    end = utc(end_time).replace(microsecond=0)
    if start >= end:
        raise ValidationError("The parameter StartTime must be less than the parameter EndTime.")
    rows: list[tuple[dict[str, Any], list[tuple[datetime, float]]]] = []
    computed = backend.aws_metric_data  # metrics moto derives from other services (S3); costly
    index = _index(backend)
    for query in queries:
        stat_spec = query["MetricStat"]
        metric = stat_spec["Metric"]
        stat = stat_spec["Stat"]
        delta = timedelta(seconds=int(stat_spec["Period"]))
        dims = tuple(sorted((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
        points: list[tuple[datetime, float]] = []
        if stat in _BASIC_STATS:
            series = _select(
                backend,
                metric["Namespace"],
                metric["MetricName"],
                dims,
                subset=False,
                computed=computed,
                index=index,
            )
            times = [t for t, _ in series]
            lo, hi = bisect.bisect_left(times, start), bisect.bisect_left(times, end)
            buckets: dict[int, list[Any]] = {}
            for ts, datum in series[lo:hi]:
                if stat_spec.get("Unit") and datum.unit != stat_spec["Unit"]:
                    continue
                buckets.setdefault(int((ts - start) / delta), []).append(datum)
            for k in sorted(buckets):
                value = _statistic(stat, buckets[k], aggregated)
                if value is not None:
                    points.append((start + k * delta, value))
        if scan_by == "TimestampDescending":
            points.reverse()
        if query.get("ReturnData", True):
            rows.append((query, points))
    return _page(rows, page_datapoints, next_token)


def _statistic(stat: str, data: list[Any], aggregated: Any) -> float | None:
    """moto's ``Statistics`` arithmetic (same order of operations), without its per-call lists."""
    singles = [d.value for d in data if not isinstance(d, aggregated)]
    sets: list[Any] = [d for d in data if isinstance(d, aggregated)]
    count = len(singles) + sum([d.sample_count for d in sets])
    total = sum(singles) + sum([d.sum for d in sets])
    if stat == "SampleCount":
        return float(count)
    if stat == "Sum":
        return float(total)
    if stat == "Average":
        return float(total / count) if count else None
    if stat == "Minimum":
        return float(min(singles + [d.min for d in sets]))
    if stat == "Maximum":
        return float(max(singles + [d.max for d in sets]))
    return None


def _page(
    rows: list[tuple[dict[str, Any], list[tuple[datetime, float]]]],
    page_datapoints: int,
    next_token: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Cut the flattened (query, point) sequence into pages of ``page_datapoints``."""
    offset = int(next_token) if next_token else 0
    budget = page_datapoints
    position = 0
    results: list[dict[str, Any]] = []
    for query, points in rows:
        first, last = position, position + len(points)
        position = last
        if next_token and last <= offset:  # returned on an earlier page
            continue
        take = points[max(0, offset - first) :][:budget]
        budget -= len(take)
        complete = max(0, offset - first) + len(take) == len(points)
        results.append(
            {
                "id": query["Id"],
                "label": query.get("Label")
                or f"{query['MetricStat']['Metric']['MetricName']} {query['MetricStat']['Stat']}",
                "values": [v for _, v in take],
                "timestamps": [t for t, _ in take],
                "status_code": "Complete" if complete else "PartialData",
            }
        )
        if not complete:
            return results, str(offset + (page_datapoints - budget))
    return results, None


def metric_statistics(
    backend: Any,
    *,
    namespace: str,
    metric_name: str,
    start_time: datetime,
    end_time: datetime,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None,
) -> list[Any]:
    from moto.cloudwatch.exceptions import InvalidParameterValue  # noqa: PLC0415
    from moto.cloudwatch.models import Statistics  # noqa: PLC0415

    start = utc(start_time).replace(microsecond=0)
    end = utc(end_time).replace(microsecond=0)
    if start >= end:
        raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
    dims = tuple(sorted((d["Name"], d["Value"]) for d in dimensions))
    series = [
        (ts, md)
        for ts, md in _select(
            backend,
            namespace,
            metric_name,
            dims,
            subset=True,
            computed=backend.aws_metric_data,
            index=_index(backend),
        )
        if start <= ts < end and (not unit or md.unit == unit)
    ]
    if not series:
        return []
    delta = timedelta(seconds=period)
    data: list[Any] = []
    bucket_start = series[0][0]  # moto aligns periods to the first datapoint, not to StartTime
    current = Statistics(stats, bucket_start)
    for ts, md in series:
        while ts >= bucket_start + delta:
            if current.metric_data:
                data.append(current)
            bucket_start += delta
            current = Statistics(stats, bucket_start)
        current.metric_data.append(md)
        current.unit = md.unit
    if current.metric_data:
        data.append(current)
    return data

"""CloudWatch metric summaries: canonical metrics -> GetMetricData queries -> daily statistics.

One query is one (metric series, statistic) at ``Period=86400`` over ``[end - lookback, end)``
with ``end`` at UTC midnight, so each query returns at most ``lookback_days`` datapoints.
Queries are packed per region into calls of ``min(500, 100_800 // lookback_days)`` queries
(the GetMetricData limits; with at most 90 days the 500-query limit always binds), so a region
needs exactly ``ceil(queries / 500)`` calls plus NextToken pages if CloudWatch pages an answer.

Memory comes from the CloudWatch agent when it runs (namespace ``CWAgent``, published with the
``InstanceId`` dimension: ``mem_used_percent`` on Linux, ``Memory % Committed Bytes In Use`` with
``objectname=Memory`` on Windows); its queries ride in the same batches, and an instance without
the agent simply returns no datapoints.

Statistics: gauges ask Average, Maximum, SampleCount (+ p99 for CPU, + Minimum for RDS
FreeableMemory, whose low point is what sizing needs); counters ask Sum, Maximum, SampleCount and
take ``Average = Sum / SampleCount``, which is CloudWatch's own definition, so one query per counter
series is saved. Days without datapoints are omitted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cloudios.domain import DailyStat, Metric, MetricSummary, Resource
from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE, ELB, NAT_GATEWAY, RDS_INSTANCE
from cloudios.providers.aws.errors import translate
from cloudios.providers.base import ProviderError

PERIOD_SECONDS = 86_400
PERCENTILE = "p99"  # sees a daily one-hour batch (4% of a day), which p95 hides
GAUGE = ("Average", "Maximum", "SampleCount")
GAUGE_PCT = (*GAUGE, PERCENTILE)
GAUGE_LOW = (*GAUGE, "Minimum")
COUNTER = ("Sum", "Maximum", "SampleCount")
_SERVER_ERROR = 500


@dataclass(frozen=True)
class CloudWatchMetric:
    """Where a canonical metric lives in CloudWatch and which statistics describe it."""

    namespace: str
    name: str
    dimension: str
    statistics: tuple[str, ...]
    fixed: tuple[tuple[str, str], ...] = ()  # dimensions with a constant value (Windows objectname)

    @property
    def counter(self) -> bool:
        return "Sum" in self.statistics


# (kind, metric) -> CloudWatch metric; load balancers depend on their type, see cloudwatch_metric.
METRIC_MAP: Mapping[tuple[str, Metric], CloudWatchMetric] = {
    (EC2_INSTANCE, Metric.CPU_UTILIZATION): CloudWatchMetric(
        "AWS/EC2", "CPUUtilization", "InstanceId", GAUGE_PCT
    ),
    (EC2_INSTANCE, Metric.NETWORK_IN_BYTES): CloudWatchMetric("AWS/EC2", "NetworkIn", "InstanceId", COUNTER),
    (EC2_INSTANCE, Metric.NETWORK_OUT_BYTES): CloudWatchMetric(
        "AWS/EC2", "NetworkOut", "InstanceId", COUNTER
    ),
    (RDS_INSTANCE, Metric.CPU_UTILIZATION): CloudWatchMetric(
        "AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", GAUGE_PCT
    ),
    (RDS_INSTANCE, Metric.DB_CONNECTIONS): CloudWatchMetric(
        "AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", GAUGE
    ),
    (RDS_INSTANCE, Metric.MEMORY_AVAILABLE_BYTES): CloudWatchMetric(
        "AWS/RDS", "FreeableMemory", "DBInstanceIdentifier", GAUGE_LOW
    ),
    (NAT_GATEWAY, Metric.NAT_BYTES_OUT): CloudWatchMetric(
        "AWS/NATGateway", "BytesOutToDestination", "NatGatewayId", COUNTER
    ),
    (NAT_GATEWAY, Metric.NAT_BYTES_IN): CloudWatchMetric(
        "AWS/NATGateway", "BytesInFromDestination", "NatGatewayId", COUNTER
    ),
    (EBS_VOLUME, Metric.VOLUME_READ_OPS): CloudWatchMetric("AWS/EBS", "VolumeReadOps", "VolumeId", COUNTER),
    (EBS_VOLUME, Metric.VOLUME_WRITE_OPS): CloudWatchMetric("AWS/EBS", "VolumeWriteOps", "VolumeId", COUNTER),
}
MEMORY_LINUX = CloudWatchMetric("CWAgent", "mem_used_percent", "InstanceId", GAUGE_PCT)
MEMORY_WINDOWS = CloudWatchMetric(
    "CWAgent", "Memory % Committed Bytes In Use", "InstanceId", GAUGE_PCT, (("objectname", "Memory"),)
)
ELB_REQUESTS: Mapping[str, CloudWatchMetric] = {
    "application": CloudWatchMetric("AWS/ApplicationELB", "RequestCount", "LoadBalancer", COUNTER),
    "network": CloudWatchMetric("AWS/NetworkELB", "NewFlowCount", "LoadBalancer", COUNTER),
}


def cloudwatch_metric(resource: Resource, metric: Metric) -> tuple[CloudWatchMetric, str] | None:
    """The CloudWatch metric and dimension value for ``metric`` of ``resource``, if any."""
    if resource.kind == ELB and metric is Metric.REQUEST_COUNT:
        spec = ELB_REQUESTS.get(str(resource.attr("type")))
        suffix = resource.attr("arnSuffix")
        return (spec, str(suffix)) if spec is not None and suffix else None
    if resource.kind == EC2_INSTANCE and metric is Metric.MEMORY_USED_PERCENT:
        windows = str(resource.attr("platform") or "").lower() == "windows"
        return (MEMORY_WINDOWS if windows else MEMORY_LINUX), resource.id
    spec = METRIC_MAP.get((resource.kind, metric))
    return (spec, resource.id) if spec is not None else None


@dataclass(frozen=True)
class Query:
    """One statistic of one series: the unit GetMetricData bills and limits."""

    resource_id: str
    metric: Metric
    source: CloudWatchMetric
    dimension_value: str
    stat: str

    def request(self, query_id: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": self.source.namespace,
                    "MetricName": self.source.name,
                    "Dimensions": [
                        {"Name": self.source.dimension, "Value": self.dimension_value},
                        *({"Name": k, "Value": v} for k, v in self.source.fixed),
                    ],
                },
                "Period": PERIOD_SECONDS,
                "Stat": self.stat,
            },
            "ReturnData": True,
        }


def plan_queries(resources: Iterable[Resource], needs: Mapping[str, Sequence[Metric]]) -> list[Query]:
    """Queries for every needed (resource, metric); ``needs`` maps kind -> metrics."""
    queries: list[Query] = []
    for resource in resources:
        for metric in needs.get(resource.kind, ()):
            found = cloudwatch_metric(resource, metric)
            if found is None:
                continue
            source, value = found
            queries.extend(Query(resource.id, metric, source, value, s) for s in source.statistics)
    return queries


def window(end: datetime, lookback_days: int) -> tuple[datetime, datetime]:
    """``[end - lookback_days, end)`` with ``end`` truncated to UTC midnight (naive means UTC)."""
    aware = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    stop = aware.replace(hour=0, minute=0, second=0, microsecond=0)
    return stop - timedelta(days=lookback_days), stop


def queries_per_call(lookback_days: int, max_queries: int = 500, max_datapoints: int = 100_800) -> int:
    """How many queries fit one call: the query limit or the datapoint limit, whichever binds."""
    points_per_query = math.ceil(lookback_days * 86_400 / PERIOD_SECONDS)
    return max(1, min(max_queries, max_datapoints // max(1, points_per_query)))


def pack(queries: Sequence[Query], per_call: int) -> list[list[Query]]:
    return [list(queries[i : i + per_call]) for i in range(0, len(queries), per_call)]


Points = list[tuple[datetime, float]]


class MetricFetcher:
    """Runs GetMetricData batches of one scan (thread-safe; one instance per scan).

    If an endpoint fails with a server error on a batch holding percentile queries (moto 5.2.5
    answers HTTP 500 to ``p99``), percentiles are dropped for the rest of the scan, the batch is
    sent again without them and a warning says so: p99 stays None, it is never made up.
    """

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.end = end
        self._lock = threading.Lock()
        self._percentiles = True
        self.warnings: list[str] = []

    def fetch(self, client: Any, region: str, batch: Sequence[Query]) -> list[tuple[Query, Points]]:
        with self._lock:
            percentiles = self._percentiles
        sent = [q for q in batch if percentiles or q.stat != PERCENTILE]
        try:
            return self._call(client, sent)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= _SERVER_ERROR and any(q.stat == PERCENTILE for q in sent):
                with self._lock:
                    if self._percentiles:
                        self._percentiles = False
                        self.warnings.append(
                            f"CloudWatch in {region} failed on extended statistics ({PERCENTILE}) "
                            f"with HTTP {status}; {PERCENTILE} is left empty for this scan and "
                            "modules fall back to the daily maximum."
                        )
                return self.fetch(client, region, batch)
            raise translate(exc, operation="cloudwatch:GetMetricData", where=region) from None
        except BotoCoreError as exc:
            raise translate(exc, operation="cloudwatch:GetMetricData", where=region) from None

    def _call(self, client: Any, batch: Sequence[Query]) -> list[tuple[Query, Points]]:
        if not batch:
            return []
        points: list[Points] = [[] for _ in batch]
        status = ["" for _ in batch]
        paginator = client.get_paginator("get_metric_data")
        pages = paginator.paginate(
            MetricDataQueries=[q.request(f"q{i}") for i, q in enumerate(batch)],
            StartTime=self.start,
            EndTime=self.end,
            ScanBy="TimestampAscending",
        )
        for page in pages:  # NextToken is followed by the paginator; each page is one call
            for result in page.get("MetricDataResults", []):
                i = int(result["Id"][1:])
                points[i].extend(zip(result.get("Timestamps", []), result.get("Values", []), strict=True))
                status[i] = result.get("StatusCode", "Complete")
        bad = sorted({s for s in status if s not in ("Complete", "")})
        if bad:
            raise ProviderError(
                "MetricsIncomplete",
                f"CloudWatch answered GetMetricData with status {', '.join(bad)} for some "
                "series; the scan stopped rather than report partial metrics. Check "
                "cloudwatch:GetMetricData permissions and retry.",
            )
        return list(zip(batch, points, strict=True))


class Summarizer:
    """Builds metric summaries batch by batch, so raw datapoints never pile up.

    Feed it from one thread. A series is finished as soon as all its queries have answered
    (they may span two calls); ``finish`` closes whatever is left.
    """

    def __init__(self, queries: Iterable[Query], start: datetime, end: datetime, lookback_days: int) -> None:
        self.start, self.end, self.lookback_days = start, end, lookback_days
        self.summaries: dict[str, dict[Metric, MetricSummary]] = {}
        self.missing_percentile = 0
        self._expected: dict[tuple[str, Metric], int] = {}
        for q in queries:
            key = (q.resource_id, q.metric)
            self._expected[key] = self._expected.get(key, 0) + 1
        self._open: dict[tuple[str, Metric], _Series] = {}
        self._dates: dict[date, date] = {}  # one date object per day, shared by every series

    def add(self, results: Iterable[tuple[Query, Points]]) -> None:
        for query, points in results:
            key = (query.resource_id, query.metric)
            series = self._open.get(key)
            if series is None:
                series = self._open[key] = _Series(counter=query.source.counter)
            series.answered += 1
            series.asked_percentile |= query.stat == PERCENTILE
            for ts, value in points:
                moment = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
                if self.start <= moment < self.end:
                    day = self._dates.setdefault(moment.date(), moment.date())
                    series.days.setdefault(day, {})[query.stat] = float(value)
            if series.answered >= self._expected.get(key, 0):
                self._close(key)

    def finish(self) -> dict[str, dict[Metric, MetricSummary]]:
        for key in list(self._open):
            self._close(key)
        return self.summaries

    def _close(self, key: tuple[str, Metric]) -> None:
        series = self._open.pop(key)
        daily = [
            stat
            for day in sorted(series.days)
            if (stat := _daily(day, series.days[day], counter=series.counter)) is not None
        ]
        if series.asked_percentile and daily and all(d.p99 is None for d in daily):
            self.missing_percentile += 1
        resource_id, metric = key
        self.summaries.setdefault(resource_id, {})[metric] = MetricSummary(
            resource_id=resource_id, metric=metric, lookback_days=self.lookback_days, daily=tuple(daily)
        )


@dataclass
class _Series:
    counter: bool
    answered: int = 0
    asked_percentile: bool = False
    days: dict[date, dict[str, float]] = field(default_factory=dict)


def _daily(day: date, stats: Mapping[str, float], *, counter: bool) -> DailyStat | None:
    samples = round(stats.get("SampleCount", 0.0))
    if samples <= 0 or "Maximum" not in stats:
        return None
    if counter:
        if "Sum" not in stats:
            return None
        total: float | None = stats["Sum"]
        average = stats["Sum"] / stats["SampleCount"]
    else:
        if "Average" not in stats:
            return None
        total, average = None, stats["Average"]
    return DailyStat(
        day=day,
        average=average,
        maximum=stats["Maximum"],
        p99=stats.get(PERCENTILE),
        sum=total,
        samples=samples,
        minimum=stats.get("Minimum"),
    )

"""CloudWatch metric summaries: canonical metrics -> GetMetricData queries -> daily statistics.

One query is one (metric series, statistic) at ``Period=86400`` over ``[end - lookback, end)``
with ``end`` at UTC midnight, so each query returns at most ``lookback_days`` datapoints.
Queries are packed per region into calls of ``min(500, 100_800 // lookback_days)`` queries
(the GetMetricData limits; with at most 90 days the 500-query limit always binds), so a region
needs exactly ``ceil(queries / 500)`` calls plus NextToken pages if CloudWatch pages an answer.
Queries are planned lazily, one batch at a time, and each answer is reduced in the worker thread
that fetched it to one row of ``lookback_days`` doubles per query (``BatchDays``), so neither the
plan of a large account nor its parsed answers are held for the whole scan.

Memory comes from the CloudWatch agent when it runs (namespace ``CWAgent``, published with the
``InstanceId`` dimension: ``mem_used_percent`` on Linux, ``Memory % Committed Bytes In Use`` with
``objectname=Memory`` on Windows); its queries ride in the same batches, and an instance without
the agent simply returns no datapoints.

Application load balancers can also give their 5xx counts (``HTTPCode_Target_5XX_Count``,
``HTTPCode_ELB_5XX_Count``), asked only when a need names them (the closed loop's load-balancer error
signal, pipeline.scan); network load balancers have no such series and get no query.

Statistics: gauges ask Average, Maximum, SampleCount (+ p99 for CPU, + Minimum for RDS
FreeableMemory, whose low point is what sizing needs); counters ask Sum, Maximum, SampleCount and
take ``Average = Sum / SampleCount``, which is CloudWatch's own definition, so one query per counter
series is saved. Days without datapoints are omitted.
"""

from __future__ import annotations

import itertools
import math
import threading
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cloudios.domain import Metric, Resource
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
# 5xx counts exist for application load balancers only: a network load balancer passes TCP/UDP flows
# and sees no HTTP status, so it has no error series (the closed loop's LB error signal skips it).
ELB_ERRORS: Mapping[Metric, CloudWatchMetric] = {
    Metric.LB_TARGET_5XX_COUNT: CloudWatchMetric(
        "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", COUNTER
    ),
    Metric.LB_5XX_COUNT: CloudWatchMetric(
        "AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", COUNTER
    ),
}


def cloudwatch_metric(resource: Resource, metric: Metric) -> tuple[CloudWatchMetric, str] | None:
    """The CloudWatch metric and dimension value for ``metric`` of ``resource``, if any."""
    if resource.kind == ELB and metric is Metric.REQUEST_COUNT:
        spec = ELB_REQUESTS.get(str(resource.attr("type")))
        suffix = resource.attr("arnSuffix")
        return (spec, str(suffix)) if spec is not None and suffix else None
    if resource.kind == ELB and metric in ELB_ERRORS:
        suffix = resource.attr("arnSuffix")
        application = resource.attr("type") == "application"
        return (ELB_ERRORS[metric], str(suffix)) if application and suffix else None
    if resource.kind == EC2_INSTANCE and metric is Metric.MEMORY_USED_PERCENT:
        windows = str(resource.attr("platform") or "").lower() == "windows"
        return (MEMORY_WINDOWS if windows else MEMORY_LINUX), resource.id
    spec = METRIC_MAP.get((resource.kind, metric))
    return (spec, resource.id) if spec is not None else None


@dataclass(frozen=True, slots=True)
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


def iter_queries(resources: Iterable[Resource], needs: Mapping[str, Sequence[Metric]]) -> Iterator[Query]:
    """Queries for every needed (resource, metric), made as they are consumed; ``needs`` maps
    kind -> metrics. The statistics of one series come out together."""
    for resource in resources:
        for metric in needs.get(resource.kind, ()):
            found = cloudwatch_metric(resource, metric)
            if found is None:
                continue
            source, value = found
            for stat in source.statistics:
                yield Query(resource.id, metric, source, value, stat)


def plan_queries(resources: Iterable[Resource], needs: Mapping[str, Sequence[Metric]]) -> list[Query]:
    """Every query of ``iter_queries`` at once (for tests and counting; a scan streams them)."""
    return list(iter_queries(resources, needs))


def window(end: datetime, lookback_days: int) -> tuple[datetime, datetime]:
    """``[end - lookback_days, end)`` with ``end`` truncated to UTC midnight (naive means UTC)."""
    aware = end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)
    stop = aware.replace(hour=0, minute=0, second=0, microsecond=0)
    return stop - timedelta(days=lookback_days), stop


def queries_per_call(lookback_days: int, max_queries: int = 500, max_datapoints: int = 100_800) -> int:
    """How many queries fit one call: the query limit or the datapoint limit, whichever binds."""
    points_per_query = math.ceil(lookback_days * 86_400 / PERIOD_SECONDS)
    return max(1, min(max_queries, max_datapoints // max(1, points_per_query)))


def batches(queries: Iterable[Query], per_call: int) -> Iterator[tuple[Query, ...]]:
    """``queries`` in calls of ``per_call``, one batch made at a time."""
    it = iter(queries)
    while batch := tuple(itertools.islice(it, per_call)):
        yield batch


@dataclass(frozen=True, slots=True)
class BatchDays:
    """One answered batch reduced to days: ``values[i * days + d]`` is query ``i``'s value on day
    ``d`` of the window (NaN: no datapoint). 8 bytes a query-day, whatever botocore parsed."""

    queries: tuple[Query, ...]
    values: array[float]
    days: int
    percentiles: bool
    """Whether the batch's percentile queries were sent (False once an endpoint refused them)."""

    def row(self, i: int) -> array[float]:
        return self.values[i * self.days : (i + 1) * self.days]


class MetricFetcher:
    """Runs GetMetricData batches of one scan (thread-safe; one instance per scan).

    If an endpoint fails with a server error on a batch holding percentile queries (moto 5.2.5
    answers HTTP 500 to ``p99``), percentiles are dropped for the rest of the scan, the batch is
    sent again without them and a warning says so: p99 stays None, it is never made up.
    """

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.end = end
        self.days = (end - start).days
        self._first = start.date().toordinal()  # start is UTC midnight
        self._lock = threading.Lock()
        self._percentiles = True
        self.warnings: list[str] = []

    def fetch(self, client: Any, region: str, batch: Sequence[Query]) -> BatchDays:
        with self._lock:
            percentiles = self._percentiles
        try:
            return self._call(client, tuple(batch), percentiles=percentiles)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= _SERVER_ERROR and percentiles and any(q.stat == PERCENTILE for q in batch):
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

    def _call(self, client: Any, batch: tuple[Query, ...], *, percentiles: bool) -> BatchDays:
        days, first = self.days, self._first
        values = array("d", [math.nan]) * (len(batch) * days)
        sent = [i for i, q in enumerate(batch) if percentiles or q.stat != PERCENTILE]
        status = dict.fromkeys(sent, "")
        if sent:
            pages = client.get_paginator("get_metric_data").paginate(
                MetricDataQueries=[batch[i].request(f"q{i}") for i in sent],
                StartTime=self.start,
                EndTime=self.end,
                ScanBy="TimestampAscending",
            )
            for page in pages:  # NextToken is followed by the paginator; each page is one call
                for result in page.get("MetricDataResults", []):
                    i = int(result["Id"][1:])
                    row = i * days
                    for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=True):
                        # the session parses timestamps to UTC; anything else is converted, naive is UTC
                        moment = ts if ts.tzinfo is UTC or ts.tzinfo is None else ts.astimezone(UTC)
                        day = moment.toordinal() - first
                        if 0 <= day < days:  # the window is whole UTC days
                            values[row + day] = value
                    status[i] = result.get("StatusCode", "Complete")
        bad = sorted({s for s in status.values() if s not in ("Complete", "")})
        if bad:
            raise ProviderError(
                "MetricsIncomplete",
                f"CloudWatch answered GetMetricData with status {', '.join(bad)} for some "
                "series; the scan stopped rather than report partial metrics. Check "
                "cloudwatch:GetMetricData permissions and retry.",
            )
        return BatchDays(batch, values, days, percentiles)

"""Cloud Monitoring ``ListTimeSeries`` over gRPC (TLS): filters, 1-day alignment, paging, auth.

Implements what the provider and the benchmark use, as Google documents it: a filter names one
``metric.type`` and may add ``resource.type`` and ``resource.labels.<key>`` equalities (AND);
``aggregation.alignmentPeriod`` must be 86,400 s (the emulator keeps daily data only) and
``perSeriesAligner`` is checked against the metric's kind and value type (percentile aligners
need distribution values, so they are refused here as by Google); ``page_size`` counts points;
points come newest first. Throttling is injected with ``Wire.fail_next``.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
from google.cloud.monitoring_v3 import types as mtypes
from google.protobuf import timestamp_pb2

from cloudios.emulators.gcp.data import METRIC_TYPES, MetricType, ProjectData, Series
from cloudios.emulators.gcp.identity import Accounts

SERVICE = "google.monitoring.v3.MetricService"
DAY = 86_400
_TERM = re.compile(r'^\s*(metric\.type|resource\.type|resource\.labels?\.([a-z_]+))\s*=\s*"([^"]*)"\s*$')
GAUGE_ALIGNERS = {"ALIGN_MEAN", "ALIGN_MAX", "ALIGN_MIN"}
DELTA_ALIGNERS = {"ALIGN_SUM", "ALIGN_MEAN", "ALIGN_MAX", "ALIGN_MIN"}


@dataclass
class Wire:
    """Shared by the gRPC and REST fronts: what is loaded, who may read it, faults, call counts."""

    accounts: Accounts
    projects: dict[str, ProjectData] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)
    _faults: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, api: str, count: int = 1) -> None:
        """The next ``count`` requests to ``api`` (monitoring|compute|sqladmin) are throttled."""
        with self._lock:
            self._faults[api] += count

    def take_fault(self, api: str) -> bool:
        with self._lock:
            if self._faults[api] > 0:
                self._faults[api] -= 1
                return True
            return False

    def count(self, key: str) -> None:
        with self._lock:
            self.calls[key] += 1


class AbortError(Exception):
    """A gRPC status to answer with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_filter(text: str) -> dict[str, str]:
    terms: dict[str, str] = {}
    for part in re.split(r"\s+AND\s+", text.strip()):
        match = _TERM.match(part)
        if match is None:
            raise AbortError(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported filter term: {part!r}")
        key = f"label:{match[2]}" if match[2] else match[1]
        terms[key] = match[3]
    if "metric.type" not in terms:
        raise AbortError(grpc.StatusCode.INVALID_ARGUMENT, "a filter must name exactly one metric.type")
    return terms


def _ts(day: date) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return stamp


def _check(
    wire: Wire, request: mtypes.ListTimeSeriesRequest, who: str | None
) -> tuple[MetricType, str, dict[str, str]]:
    """The metric type, aligner name and filter terms of a valid, authorized request."""
    project = request.name.removeprefix("projects/")
    if who is None:
        raise AbortError(grpc.StatusCode.UNAUTHENTICATED, "Request had invalid authentication credentials.")
    if not wire.accounts.may_read(who, project) or project not in wire.projects:
        raise AbortError(
            grpc.StatusCode.PERMISSION_DENIED,
            f"Permission monitoring.timeSeries.list denied on {request.name}",
        )
    terms = parse_filter(request.filter)
    metric = METRIC_TYPES.get(terms["metric.type"])
    if metric is None:
        raise AbortError(grpc.StatusCode.NOT_FOUND, f"unknown metric type {terms['metric.type']}")
    if request.aggregation.alignment_period.total_seconds() != DAY:
        raise AbortError(
            grpc.StatusCode.INVALID_ARGUMENT, "the emulator supports alignmentPeriod 86400s only"
        )
    aligner = mtypes.Aggregation.Aligner(request.aggregation.per_series_aligner).name
    if aligner not in (GAUGE_ALIGNERS if metric.kind == "GAUGE" else DELTA_ALIGNERS):
        raise AbortError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The aligner {aligner} is not valid for metrics of kind {metric.kind} and value type "
            f"{metric.value_type}",
        )
    return metric, aligner, terms


def _points(
    series: Series, metric: MetricType, aligner: str, start: datetime, end: datetime
) -> list[mtypes.Point]:
    """The aligned daily points inside ``[start, end)``, newest first."""
    points = []
    double = metric.value_type == "DOUBLE" or aligner == "ALIGN_MEAN"
    for day in sorted(series.days, reverse=True):
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if moment < start or moment + timedelta(days=1) > end:
            continue
        mean, top = series.days[day]
        value = top if aligner == "ALIGN_MAX" else mean
        typed = (
            mtypes.TypedValue(double_value=value) if double else mtypes.TypedValue(int64_value=round(value))
        )
        interval = mtypes.TimeInterval(start_time=_ts(day), end_time=_ts(day + timedelta(days=1)))
        points.append(mtypes.Point(interval=interval, value=typed))
    return points


def list_time_series(
    wire: Wire, request: mtypes.ListTimeSeriesRequest, who: str | None
) -> mtypes.ListTimeSeriesResponse:
    metric, aligner, terms = _check(wire, request, who)
    if terms.get("resource.type", metric.resource_type) != metric.resource_type:
        return mtypes.ListTimeSeriesResponse()
    start = datetime.fromtimestamp(request.interval.start_time.timestamp(), UTC)
    end = datetime.fromtimestamp(request.interval.end_time.timestamp(), UTC)
    wanted = {k.removeprefix("label:"): v for k, v in terms.items() if k.startswith("label:")}
    out: list[mtypes.TimeSeries] = []
    for series in wire.projects[request.name.removeprefix("projects/")].series.get(metric.name, []):
        if any(series.labels.get(k) != v for k, v in wanted.items()):
            continue
        points = _points(series, metric, aligner, start, end)
        if points:
            out.append(
                mtypes.TimeSeries(
                    metric={"type": metric.name},
                    resource={"type": metric.resource_type, "labels": series.labels},
                    metric_kind="GAUGE",
                    value_type="DOUBLE" if "double_value" in points[0].value else "INT64",
                    points=points,
                )
            )
    return _page(out, request.page_size or 100_000, request.page_token)


def _page(series: list[mtypes.TimeSeries], size: int, token: str) -> mtypes.ListTimeSeriesResponse:
    """Whole series, as many as fit in ``size`` points (at least one), from the token's offset."""
    offset = int(token) if token else 0
    taken: list[mtypes.TimeSeries] = []
    points, index = 0, offset
    while index < len(series) and (not taken or points + len(series[index].points) <= size):
        taken.append(series[index])
        points += len(series[index].points)
        index += 1
    return mtypes.ListTimeSeriesResponse(
        time_series=taken, next_page_token=str(index) if index < len(series) else ""
    )


def handler(wire: Wire) -> grpc.GenericRpcHandler:
    def list_ts(
        request: mtypes.ListTimeSeriesRequest, context: grpc.ServicerContext
    ) -> mtypes.ListTimeSeriesResponse:
        wire.count("monitoring.ListTimeSeries")
        if wire.take_fault("monitoring"):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "The query rate is too high.")
        metadata: Mapping[str, Any] = dict(context.invocation_metadata())
        try:
            return list_time_series(wire, request, wire.accounts.who(metadata.get("authorization")))
        except AbortError as exc:
            context.abort(exc.code, exc.message)
            raise  # unreachable: abort raises

    method = grpc.unary_unary_rpc_method_handler(
        list_ts,
        request_deserializer=mtypes.ListTimeSeriesRequest.deserialize,
        response_serializer=mtypes.ListTimeSeriesResponse.serialize,
    )
    return grpc.method_handlers_generic_handler(SERVICE, {"ListTimeSeries": method})


def serve(wire: Wire, cert_pem: bytes, key_pem: bytes, workers: int = 8) -> tuple[int, Callable[[], None]]:
    """Start the TLS gRPC server on 127.0.0.1; returns the port and a stop function."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), handlers=[handler(wire)])
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, cert_pem)]))
    server.start()
    return port, lambda: server.stop(grace=None)

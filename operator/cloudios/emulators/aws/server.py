"""Local AWS emulator for tests, benchmarks and the demo: moto's server plus CloudWatch fixes.

moto 5.2.5 is used as is for every service except two CloudWatch read paths, patched in the
process that runs the server (never anything Cloudios ships to talk to real AWS):

* ``GetMetricData`` scans every stored datapoint once per query and per period, so its cost is
  queries x days x all datapoints: seconds for a handful of instances, hours for the 1,000-instance
  benchmark. The patch indexes datapoints by (namespace, metric, dimensions) and time; the
  arithmetic follows moto's ``Statistics`` class operation for operation, so values are
  identical (a test compares both). Metric-math and Insights queries still go to moto's code.
* moto cannot compute extended statistics (``p95``): its ``GetMetricData`` answers HTTP 500
  (the serializer chokes on ``None``) and its ``GetMetricStatistics`` silently omits them. The
  patch returns an empty series for percentile statistics, i.e. "no datapoints"; it never
  invents a value. Cloudios then reports ``p95`` as ``None``.
* Real CloudWatch limits that moto does not enforce are enforced: at most 500 queries per call,
  and answers are paged by ``MaxDatapoints`` (default 100,800) with ``NextToken``.
  ``set_cloudwatch_page_datapoints`` lowers the page size so tests can exercise paging.
* ``GetMetricStatistics`` gets the same index (moto scans all datapoints per call), keeping its
  semantics, including periods aligned to the first datapoint.
* Both answer JSON-protocol clients with a directly built JSON body: moto's generic serializer
  takes ~0.1 ms per value, minutes for a benchmark-sized scan.

``start_moto_server`` also skips moto's ~1,300 default AMIs per account and region unless asked.
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from cloudios.emulators.aws.metric_index import metric_data, metric_statistics, utc

MAX_QUERIES_PER_CALL = 500
DEFAULT_PAGE_DATAPOINTS = 100_800

_patch_lock = threading.Lock()
_page_datapoints = DEFAULT_PAGE_DATAPOINTS
_in_process_urls: set[str] = set()


class MotoServer(NamedTuple):
    """A running moto server: its base URL and how to stop it (unpacks as ``url, stop``)."""

    url: str
    stop: Callable[[], None]


def start_moto_server(port: int = 0, *, quiet: bool = True, default_amis: bool = False) -> MotoServer:
    """Start moto's threaded server on 127.0.0.1 (``port=0``: a free port) with the patches.

    ``default_amis=False`` skips moto's ~1,300 public AMIs (and their snapshots) per account and
    region: loading them makes the first EC2 call of every account-region take seconds.
    """
    from moto import settings  # noqa: PLC0415 - moto is a dev/demo dependency
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    install_cloudwatch_patches()
    if quiet:
        # werkzeug logs every request at INFO; a scan makes thousands of them.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    load_amis = settings.ec2_load_default_amis
    if not default_amis:
        settings.ec2_load_default_amis = lambda: False
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    url = f"http://{host}:{bound}"
    _in_process_urls.add(url)

    def stop() -> None:
        _in_process_urls.discard(url)
        server.stop()
        settings.ec2_load_default_amis = load_amis

    return MotoServer(url, stop)


def is_in_process(url: str) -> bool:
    """Whether ``url`` is a server started by this process (its backends are reachable here)."""
    return url.rstrip("/") in _in_process_urls


def set_cloudwatch_page_datapoints(limit: int) -> int:
    """Set how many datapoints one patched ``GetMetricData`` page holds; returns the old value."""
    global _page_datapoints  # one emulator per process, like moto's own state
    old, _page_datapoints = _page_datapoints, max(1, limit)
    return old


# moto's originals, kept by install_cloudwatch_patches for the paths the patch does not cover
# (and for tests that compare both).
_moto: dict[str, Any] = {}


def install_cloudwatch_patches() -> None:
    """Patch moto's CloudWatch backend and responses once per process (idempotent)."""
    # Typed as Any on purpose: this reaches into moto's internals, which have no stable API.
    models: Any = importlib.import_module("moto.cloudwatch.models")
    responses: Any = importlib.import_module("moto.cloudwatch.responses")
    with _patch_lock:
        if getattr(models.CloudWatchBackend, "_cloudios_patched", False):
            return
        _moto["responses"] = responses
        _moto["get_metric_data"] = models.CloudWatchBackend.get_metric_data
        _moto["get_metric_statistics_response"] = responses.CloudWatchResponse.get_metric_statistics
        _moto["get_metric_data_response"] = responses.CloudWatchResponse.get_metric_data
        _moto["get_metric_statistics"] = models.CloudWatchBackend.get_metric_statistics
        responses.CloudWatchResponse.get_metric_data = _get_metric_data_response
        responses.CloudWatchResponse.get_metric_statistics = _get_metric_statistics_response
        models.CloudWatchBackend.get_metric_statistics = _get_metric_statistics
        models.CloudWatchBackend._cloudios_patched = True  # noqa: SLF001


def _get_metric_data_response(self: Any) -> Any:
    responses = _moto["responses"]
    params = self._get_params()
    queries = params.get("MetricDataQueries", [])
    if len(queries) > MAX_QUERIES_PER_CALL:
        raise responses.ValidationError(
            "The collection MetricDataQueries must not have a size greater than 500."
        )
    scan_by = params.get("ScanBy") or "TimestampDescending"
    if any("MetricStat" not in q for q in queries):  # metric math / Insights: moto's own code
        results = _moto["get_metric_data"](
            self.cloudwatch_backend,
            queries=queries,
            start_time=params["StartTime"],
            end_time=params["EndTime"],
            scan_by=scan_by,
        )
        return responses.ActionResult({"MetricDataResults": results})
    results, token = metric_data(
        self.cloudwatch_backend,
        queries=queries,
        start_time=params["StartTime"],
        end_time=params["EndTime"],
        scan_by=scan_by,
        page_datapoints=int(params.get("MaxDatapoints") or _page_datapoints),
        next_token=params.get("NextToken"),
    )
    if not _wants_json(self):
        return responses.ActionResult({"MetricDataResults": results, "NextToken": token})
    body: dict[str, Any] = {
        "MetricDataResults": [
            {
                "Id": r["id"],
                "Label": r["label"],
                "Timestamps": [t.timestamp() for t in r["timestamps"]],
                "Values": r["values"],
                "StatusCode": r["status_code"],
            }
            for r in results
        ],
        "Messages": [],
    }
    if token:
        body["NextToken"] = token
    return _json_response(body)


def _get_metric_statistics_response(self: Any) -> Any:
    if not _wants_json(self):
        return _moto["get_metric_statistics_response"](self)
    stats = self._get_param("Statistics", [])
    if not stats and not self._get_param("ExtendedStatistics"):
        raise _moto["responses"].InvalidParameterCombination(
            "Must specify either Statistics or ExtendedStatistics"
        )
    name = self._get_param("MetricName")
    found = self.cloudwatch_backend.get_metric_statistics(
        self._get_param("Namespace"),
        name,
        self._get_param("StartTime"),
        self._get_param("EndTime"),
        self._get_int_param("Period"),
        stats,
        unit=self._get_param("Unit"),
        dimensions=self._get_param("Dimensions", []),
    )
    points = []
    for st in found:
        point: dict[str, Any] = {"Timestamp": utc(st.timestamp).timestamp()}
        for key, value in (
            ("SampleCount", st.sample_count),
            ("Average", st.average),
            ("Sum", st.sum),
            ("Minimum", st.minimum),
            ("Maximum", st.maximum),
        ):
            if value is not None:
                point[key] = float(value)
        if st.unit:
            point["Unit"] = st.unit
        points.append(point)
    return _json_response({"Label": name, "Datapoints": points})


def _get_metric_statistics(  # noqa: PLR0917 - moto calls it positionally
    backend: Any,
    namespace: str,
    metric_name: str,
    start_time: datetime,
    end_time: datetime,
    period: int,
    stats: list[str],
    dimensions: list[dict[str, str]],
    unit: str | None = None,
) -> list[Any]:
    return metric_statistics(
        backend,
        namespace=namespace,
        metric_name=metric_name,
        start_time=start_time,
        end_time=end_time,
        period=period,
        stats=stats,
        dimensions=dimensions,
        unit=unit,
    )


def _wants_json(response: Any) -> bool:
    """Whether the client speaks CloudWatch's JSON protocol (botocore >= 1.37 does)."""
    return str(response.headers.get("Content-Type", "")).startswith("application/x-amz-json")


def _json_response(body: dict[str, Any]) -> tuple[int, dict[str, str], str]:
    # moto's generic serializer costs ~0.1 ms per value; a 500-query answer holds 45,000.
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(body)

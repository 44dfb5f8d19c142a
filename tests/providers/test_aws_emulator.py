"""The emulator's CloudWatch patches answer exactly like moto, only faster and within AWS limits."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.cloudwatch import models, responses

from cloudios.emulators.aws import server
from tests.support.moto import ACCOUNT_A, AwsEnv

pytestmark = pytest.mark.aws

END = datetime(2025, 1, 10, tzinfo=UTC)
STATS = ("Average", "Maximum", "Minimum", "SampleCount", "Sum")


def _seed(cw: Any) -> None:
    rng = random.Random(3)
    data = []
    for i in range(5):
        for hour in range(24 * 10):
            if rng.random() < 0.3:
                continue
            when = END - timedelta(days=10) + timedelta(hours=hour, minutes=rng.randint(0, 59))
            dims = [{"Name": "InstanceId", "Value": f"i-{i}"}]
            if rng.random() < 0.5:
                data.append(
                    {"MetricName": "CPU", "Dimensions": dims, "Timestamp": when, "Value": rng.random() * 100}
                )
            else:
                low = rng.random() * 50
                high = low + rng.random() * 50
                stats = {"SampleCount": 12, "Sum": (low + high) * 6, "Minimum": low, "Maximum": high}
                data.append(
                    {"MetricName": "CPU", "Dimensions": dims, "Timestamp": when, "StatisticValues": stats}
                )
    for k in range(0, len(data), 1000):
        cw.put_metric_data(Namespace="Test", MetricData=data[k : k + 1000])


def _queries(stats: tuple[str, ...] = STATS, count: int = 6) -> list[dict[str, Any]]:
    return [
        {
            "Id": f"q{i}_{stat.lower()}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "Test",
                    "MetricName": "CPU",
                    "Dimensions": [{"Name": "InstanceId", "Value": f"i-{i}"}],
                },
                "Period": 86400,
                "Stat": stat,
            },
        }
        for i in range(count)
        for stat in stats
    ]


def _read(cw: Any) -> tuple[list[Any], list[Any]]:
    window = {"StartTime": END - timedelta(days=12, hours=3), "EndTime": END - timedelta(hours=5)}
    data = cw.get_metric_data(MetricDataQueries=_queries(), **window)["MetricDataResults"]
    gmd = sorted(
        (
            r["Id"],
            r["Label"],
            r["StatusCode"],
            tuple(r["Timestamps"]),
            tuple(round(v, 9) for v in r["Values"]),
        )
        for r in data
    )
    gms = [
        cw.get_metric_statistics(
            Namespace="Test",
            MetricName="CPU",
            Dimensions=[{"Name": "InstanceId", "Value": f"i-{i}"}],
            StartTime=END - timedelta(days=12),
            EndTime=END,
            Period=86400,
            Statistics=list(STATS),
        )["Datapoints"]
        for i in range(6)
    ]
    return gmd, gms


def test_patched_answers_equal_moto_answers(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    _seed(cw)
    patched = _read(cw)

    originals = server._moto
    monkeypatch.setattr(
        responses.CloudWatchResponse, "get_metric_data", originals["get_metric_data_response"]
    )
    monkeypatch.setattr(
        responses.CloudWatchResponse, "get_metric_statistics", originals["get_metric_statistics_response"]
    )
    monkeypatch.setattr(models.CloudWatchBackend, "get_metric_statistics", originals["get_metric_statistics"])
    stock = _read(cw)

    assert patched == stock
    assert sum(len(r[4]) for r in patched[0]) > 200  # the comparison covered real data


def test_pages_join_up_to_the_whole_answer(aws_env: AwsEnv) -> None:
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    _seed(cw)
    window = {"StartTime": END - timedelta(days=12), "EndTime": END}
    whole = cw.get_metric_data(MetricDataQueries=_queries(), **window)["MetricDataResults"]

    old = server.set_cloudwatch_page_datapoints(7)
    try:
        paginator = cw.get_paginator("get_metric_data")
        pages = list(paginator.paginate(MetricDataQueries=_queries(), **window))
    finally:
        server.set_cloudwatch_page_datapoints(old)

    joined: dict[str, list[Any]] = {}
    for page in pages:
        for result in page["MetricDataResults"]:
            joined.setdefault(result["Id"], []).extend(
                zip(result["Timestamps"], result["Values"], strict=True)
            )
    total = sum(len(r["Values"]) for r in whole)
    assert len(pages) == -(-total // 7)
    assert joined == {r["Id"]: list(zip(r["Timestamps"], r["Values"], strict=True)) for r in whole}


def test_limits_and_percentiles(aws_env: AwsEnv) -> None:
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    _seed(cw)
    window = {"StartTime": END - timedelta(days=12), "EndTime": END}

    with pytest.raises(ClientError) as caught:
        cw.get_metric_data(MetricDataQueries=_queries(STATS, 101), **window)  # 505 queries
    assert "500" in str(caught.value)

    (p95,) = cw.get_metric_data(MetricDataQueries=_queries(("p95",), 1), **window)["MetricDataResults"]
    assert (p95["Values"], p95["StatusCode"]) == ([], "Complete")  # no value rather than a made-up one

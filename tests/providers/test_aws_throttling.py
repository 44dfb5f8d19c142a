"""AWS provider under throttling injected on the wire: same findings input, or a clear error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudios.domain import Metric
from cloudios.domain.resource import EC2_INSTANCE, ELB
from cloudios.providers.aws.calls import RETRIES_SUFFIX
from cloudios.providers.aws.collect import collect
from cloudios.providers.aws.tuning import AwsTuning
from cloudios.providers.base import CollectResult, ProviderError
from tests.providers.aws_helpers import EC2_METRICS, launch
from tests.support.moto import ACCOUNT_A, AwsEnv, FaultProxy, combine, every, throttle

pytestmark = pytest.mark.aws

END = datetime(2026, 3, 10, tzinfo=UTC)
REGIONS = ("us-east-1", "eu-west-1")


def _seed(env: AwsEnv) -> None:
    for region in REGIONS:
        ec2, cw, elb = env.clients(ACCOUNT_A, region, "ec2", "cloudwatch", "elbv2")
        subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
        elb.create_load_balancer(Name=f"lb-{region}", Subnets=subnets)
        data = [
            {
                "MetricName": name,
                "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                "Timestamp": datetime(2026, 3, day, hour, tzinfo=UTC),
                "Value": value,
            }
            for k, iid in enumerate(launch(ec2, 4))
            for day in range(3, 9)
            for hour, name, value in (
                (0, "CPUUtilization", k),
                (1, "CPUUtilization", day),
                (0, "NetworkIn", k * 1e6),
            )
        ]
        cw.put_metric_data(Namespace="AWS/EC2", MetricData=data)


def _scan(env: AwsEnv, *, queries_per_call: int = 500, attempts: int = 10) -> CollectResult:
    request = env.request(
        ACCOUNT_A,
        regions=REGIONS,
        kinds=[EC2_INSTANCE, ELB],
        metrics=[*EC2_METRICS, (ELB, Metric.REQUEST_COUNT)],
        lookback_days=7,
        end=END,
    )
    # Small batches make several GetMetricData calls per region, so throttling hits mid-scan.
    return collect(request, tuning=AwsTuning(max_queries_per_call=queries_per_call, max_attempts=attempts))


def test_a_throttled_scan_finds_exactly_what_an_unthrottled_one_does(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(aws_env)
    calm = _scan(aws_env, queries_per_call=15)
    rule = combine(
        every("sts", "AssumeRole", throttle("sts"), first=1),
        every("ec2", "DescribeInstances", throttle("ec2"), first=1),
        every("elasticloadbalancing", "DescribeLoadBalancers", throttle("elasticloadbalancing"), first=1),
        every("monitoring", "GetMetricData", throttle("monitoring"), nth=3),
    )
    proxy = FaultProxy(aws_env.url, rule)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        stormy = _scan(aws_env, queries_per_call=15)
    finally:
        proxy.close()

    assert stormy.snapshot.resources == calm.snapshot.resources
    assert stormy.snapshot.metrics == calm.snapshot.metrics
    assert len(stormy.snapshot.resources) == 10
    billed = {k: v for k, v in stormy.api_calls.items() if not k.endswith(RETRIES_SUFFIX)}
    assert billed == calm.api_calls  # retries never inflate the logical call counts
    assert calm.api_calls["cloudwatch.GetMetricData"] == 2 * 3  # 40 queries per region / 15
    retries = {k: v for k, v in stormy.api_calls.items() if k.endswith(RETRIES_SUFFIX)}
    assert retries["sts.AssumeRole.retries"] == 1
    assert retries["ec2.DescribeInstances.retries"] == 1
    assert retries["elbv2.DescribeLoadBalancers.retries"] == 1
    assert retries["cloudwatch.GetMetricData.retries"] >= 1
    assert retries["cloudwatch.GetMetricData.retries"] == proxy.count("monitoring", "GetMetricData", 400)
    assert proxy.count("ec2", "DescribeInstances", 503) == 1


def test_throttling_that_never_ends_stops_the_scan_without_partial_results(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(aws_env)
    proxy = FaultProxy(
        aws_env.url, every("monitoring", "GetMetricData", throttle("monitoring"), first=10_000)
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        with pytest.raises(ProviderError) as caught:
            _scan(aws_env, attempts=2)
    finally:
        proxy.close()

    assert caught.value.reason == "Throttled"
    assert "cloudwatch:GetMetricData" in caught.value.message
    assert "partial" in caught.value.message
    assert proxy.count("monitoring", "GetMetricData", 400) >= 2

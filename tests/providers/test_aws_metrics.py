"""AWS provider metrics: the window, exact daily statistics, the metric mapping."""

from __future__ import annotations

import math
from array import array
from datetime import UTC, date, datetime
from typing import Any

import pytest

from cloudios.domain import Metric, Provider, Resource
from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE, ELB, NAT_GATEWAY, RDS_INSTANCE
from cloudios.providers.aws.collect import collect
from cloudios.providers.aws.metrics import plan_queries, window
from cloudios.providers.aws.summaries import daily_columns
from cloudios.providers.aws.tuning import AwsTuning
from tests.providers.aws_helpers import DAY1, DAY3, EC2_METRICS, METRICS_END, launch, put_hourly
from tests.support.moto import ACCOUNT_A, AwsEnv, Fault, FaultProxy

pytestmark = pytest.mark.aws


def test_window_ends_at_utc_midnight() -> None:
    start, end = window(datetime(2026, 3, 10, 23, 59, tzinfo=UTC), 7)
    assert (start, end) == (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))


def test_a_naive_end_is_utc() -> None:
    assert window(datetime(2026, 3, 10, 23, 59), 1) == (  # noqa: DTZ001 - the point of the test
        datetime(2026, 3, 9, tzinfo=UTC),
        datetime(2026, 3, 10, tzinfo=UTC),
    )


def test_daily_statistics_of_a_hand_made_series(aws_env: AwsEnv) -> None:
    (iid,) = launch(aws_env.client("ec2", ACCOUNT_A))
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    put_hourly(
        cw, "AWS/EC2", "CPUUtilization", dimension="InstanceId", value=iid, start=DAY1, values=range(24)
    )
    put_hourly(
        cw, "AWS/EC2", "CPUUtilization", dimension="InstanceId", value=iid, start=DAY3, values=[10, 20, 30]
    )
    # Outside the window: the last hour before it, and the (partial) day the scan runs on.
    for outside in (datetime(2026, 3, 2, 23, tzinfo=UTC), datetime(2026, 3, 10, 1, tzinfo=UTC)):
        put_hourly(
            cw, "AWS/EC2", "CPUUtilization", dimension="InstanceId", value=iid, start=outside, values=[99]
        )
    put_hourly(
        cw, "AWS/EC2", "NetworkIn", dimension="InstanceId", value=iid, start=DAY1, values=[1000.0] * 24
    )
    put_hourly(cw, "AWS/EC2", "NetworkIn", dimension="InstanceId", value=iid, start=DAY3, values=[5.0, 7.0])

    result = collect(
        aws_env.request(
            ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=EC2_METRICS, lookback_days=7, end=METRICS_END
        )
    )

    cpu = result.snapshot.metric(iid, Metric.CPU_UTILIZATION)
    assert [(d.day, d.average, d.maximum, d.samples, d.sum) for d in cpu.daily] == [
        (date(2026, 3, 4), 11.5, 23.0, 24, None),
        (date(2026, 3, 6), 20.0, 30.0, 3, None),
    ]
    assert cpu.lookback_days == 7
    assert cpu.days_with_data == 2
    assert all(d.p99 is None for d in cpu.daily)  # moto computes no percentiles; never invented
    net = result.snapshot.metric(iid, Metric.NETWORK_IN_BYTES)
    assert [(d.day, d.sum, d.average, d.maximum, d.samples) for d in net.daily] == [
        (date(2026, 3, 4), 24000.0, 1000.0, 1000.0, 24),
        (date(2026, 3, 6), 12.0, 6.0, 7.0, 2),
    ]
    assert result.snapshot.metric(iid, Metric.NETWORK_OUT_BYTES).daily == ()
    assert any("p99" in w for w in result.warnings)


def test_each_kind_reads_its_cloudwatch_metric(aws_env: AwsEnv) -> None:
    ec2, elb, rds, cw = aws_env.clients(ACCOUNT_A, "us-east-1", "ec2", "elbv2", "rds", "cloudwatch")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets[0], ConnectivityType="private")["NatGateway"][
        "NatGatewayId"
    ]
    alb = elb.create_load_balancer(Name="alb", Subnets=subnets, Type="application")["LoadBalancers"][0]
    nlb = elb.create_load_balancer(Name="nlb", Subnets=subnets, Type="network")["LoadBalancers"][0]
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
    )
    suffix = {lb["LoadBalancerArn"]: lb["LoadBalancerArn"].split(":loadbalancer/")[1] for lb in (alb, nlb)}
    seeded = [
        ("AWS/EBS", "VolumeReadOps", "VolumeId", volume, volume, Metric.VOLUME_READ_OPS, 1.0),
        ("AWS/EBS", "VolumeWriteOps", "VolumeId", volume, volume, Metric.VOLUME_WRITE_OPS, 2.0),
        ("AWS/NATGateway", "BytesOutToDestination", "NatGatewayId", nat, nat, Metric.NAT_BYTES_OUT, 3.0),
        ("AWS/NATGateway", "BytesInFromDestination", "NatGatewayId", nat, nat, Metric.NAT_BYTES_IN, 4.0),
        (
            "AWS/RDS",
            "CPUUtilization",
            "DBInstanceIdentifier",
            "orders",
            "orders",
            Metric.CPU_UTILIZATION,
            5.0,
        ),
        (
            "AWS/RDS",
            "DatabaseConnections",
            "DBInstanceIdentifier",
            "orders",
            "orders",
            Metric.DB_CONNECTIONS,
            6.0,
        ),
        (
            "AWS/ApplicationELB",
            "RequestCount",
            "LoadBalancer",
            suffix[alb["LoadBalancerArn"]],
            alb["LoadBalancerArn"],
            Metric.REQUEST_COUNT,
            7.0,
        ),
        (
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            "LoadBalancer",
            suffix[alb["LoadBalancerArn"]],
            alb["LoadBalancerArn"],
            Metric.LB_TARGET_5XX_COUNT,
            9.0,
        ),
        (
            "AWS/ApplicationELB",
            "HTTPCode_ELB_5XX_Count",
            "LoadBalancer",
            suffix[alb["LoadBalancerArn"]],
            alb["LoadBalancerArn"],
            Metric.LB_5XX_COUNT,
            10.0,
        ),
        (
            "AWS/NetworkELB",
            "NewFlowCount",
            "LoadBalancer",
            suffix[nlb["LoadBalancerArn"]],
            nlb["LoadBalancerArn"],
            Metric.REQUEST_COUNT,
            8.0,
        ),
    ]
    for namespace, name, dimension, value, _, _, level in seeded:
        put_hourly(cw, namespace, name, dimension=dimension, value=value, start=DAY1, values=[level] * 4)
    needs = [(EBS_VOLUME, Metric.VOLUME_READ_OPS), (EBS_VOLUME, Metric.VOLUME_WRITE_OPS)]
    needs += [(NAT_GATEWAY, Metric.NAT_BYTES_OUT), (NAT_GATEWAY, Metric.NAT_BYTES_IN)]
    needs += [(RDS_INSTANCE, Metric.CPU_UTILIZATION), (RDS_INSTANCE, Metric.DB_CONNECTIONS)]
    needs += [(ELB, Metric.REQUEST_COUNT), (ELB, Metric.LB_TARGET_5XX_COUNT), (ELB, Metric.LB_5XX_COUNT)]

    snapshot = collect(
        aws_env.request(
            ACCOUNT_A,
            kinds=[EBS_VOLUME, NAT_GATEWAY, RDS_INSTANCE, ELB],
            metrics=needs,
            lookback_days=7,
            end=METRICS_END,
        )
    ).snapshot

    for _, name, _, _, resource_id, metric, level in seeded:
        (day,) = snapshot.metric(resource_id, metric).daily
        assert (day.average, day.maximum, day.samples) == (level, level, 4), name
    # A network load balancer has no 5xx series: nothing is asked, nothing is made up.
    nlb_arn = nlb["LoadBalancerArn"]
    assert not snapshot.metric(nlb_arn, Metric.LB_TARGET_5XX_COUNT).daily
    assert not snapshot.metric(nlb_arn, Metric.LB_5XX_COUNT).daily


def test_an_endpoint_failing_on_percentiles_gives_p99_none(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    (iid,) = launch(aws_env.client("ec2", ACCOUNT_A))
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    put_hourly(cw, "AWS/EC2", "CPUUtilization", dimension="InstanceId", value=iid, start=DAY1, values=[1, 3])
    crash = Fault(
        500, (("Content-Type", "text/html"),), b"<h1>Internal Server Error</h1>"
    )  # stock moto 5.2.5

    def on_p95(service: str, operation: str, body: bytes, _n: int) -> Fault | None:
        return crash if operation == "GetMetricData" and b'"p99"' in body else None

    proxy = FaultProxy(aws_env.url, on_p95)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        result = collect(
            aws_env.request(
                ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=EC2_METRICS[:1], lookback_days=7, end=METRICS_END
            ),
            tuning=AwsTuning(max_attempts=2),
        )
    finally:
        proxy.close()

    (day,) = result.snapshot.metric(iid, Metric.CPU_UTILIZATION).daily
    assert (day.average, day.maximum, day.samples, day.p99) == (2.0, 3.0, 2, None)
    assert proxy.count("monitoring", "GetMetricData", 500) == 2  # both attempts of the first call
    assert any("p99" in w and "HTTP 500" in w for w in result.warnings)


def test_rds_freeable_memory_keeps_the_daily_minimum(aws_env: AwsEnv) -> None:
    rds, cw = aws_env.clients(ACCOUNT_A, "us-east-1", "rds", "cloudwatch")
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.r5.large",
        Engine="postgres",
        AllocatedStorage=20,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
    )
    gib = 1024**3
    put_hourly(
        cw,
        "AWS/RDS",
        "FreeableMemory",
        dimension="DBInstanceIdentifier",
        value="orders",
        start=DAY1,
        values=[2 * gib, 3 * gib, 1 * gib, 4 * gib],
    )

    snapshot = collect(
        aws_env.request(
            ACCOUNT_A,
            kinds=[RDS_INSTANCE],
            metrics=[(RDS_INSTANCE, Metric.MEMORY_AVAILABLE_BYTES)],
            lookback_days=7,
            end=METRICS_END,
        )
    ).snapshot

    (day,) = snapshot.metric("orders", Metric.MEMORY_AVAILABLE_BYTES).daily
    assert (day.minimum, day.average, day.maximum, day.samples) == (1 * gib, 2.5 * gib, 4 * gib, 4)


def test_windows_memory_is_the_agents_committed_bytes_counter() -> None:
    windows = Resource(
        provider=Provider.AWS,
        account_id=ACCOUNT_A,
        region="us-east-1",
        kind=EC2_INSTANCE,
        id="i-0w",
        attributes={"platform": "windows"},
    )
    linux = windows.model_copy(update={"id": "i-0l", "attributes": {"platform": "linux"}})
    queries = plan_queries([windows, linux], {EC2_INSTANCE: [Metric.MEMORY_USED_PERCENT]})
    stats = [q.request("q")["MetricStat"] for q in queries]
    assert {(s["Metric"]["Namespace"], s["Metric"]["MetricName"]) for s in stats} == {
        ("CWAgent", "Memory % Committed Bytes In Use"),
        ("CWAgent", "mem_used_percent"),
    }
    dims = {s["Metric"]["MetricName"]: s["Metric"]["Dimensions"] for s in stats}
    assert dims["Memory % Committed Bytes In Use"] == [
        {"Name": "InstanceId", "Value": "i-0w"},
        {"Name": "objectname", "Value": "Memory"},
    ]
    assert dims["mem_used_percent"] == [{"Name": "InstanceId", "Value": "i-0l"}]
    assert {s["Stat"] for s in stats} == {"Average", "Maximum", "SampleCount", "p99"}


def test_daily_columns_keep_only_complete_days() -> None:
    nan = math.nan
    first = date(2026, 3, 3).toordinal()
    rows = {
        "Sum": array("d", [240.0, nan, 12.0, 5.0, 9.0]),
        "Maximum": array("d", [20.0, nan, 7.0, nan, 4.5]),
        "SampleCount": array("d", [24.0, nan, 2.0, 1.0, 0.0]),  # day 3 has no Maximum, day 4 no samples
    }
    columns, has_percentile = daily_columns(rows, counter=True, first=first)
    assert [(d.day, d.sum, d.average, d.maximum, d.samples) for d in columns] == [
        (date(2026, 3, 3), 240.0, 10.0, 20.0, 24),
        (date(2026, 3, 5), 12.0, 6.0, 7.0, 2),
    ]
    assert not has_percentile
    assert columns.nbytes() == 2 * 24  # the average is Sum / SampleCount: not stored

    rows["SampleCount"] = array("d", [2.5, nan, 2.0, 1.0, 0.0])  # fractional: the average is stored
    columns, _ = daily_columns(rows, counter=True, first=first)
    assert [d.average for d in columns] == [240.0 / 2.5, 6.0]

    gauge = {"Average": array("d", [1.0]), "Maximum": array("d", [2.0]), "SampleCount": array("d", [3.0])}
    columns, has_percentile = daily_columns({**gauge, "p99": array("d", [1.9])}, counter=False, first=first)
    assert [(d.average, d.maximum, d.samples, d.p99) for d in columns] == [(1.0, 2.0, 3, 1.9)]
    assert has_percentile
    assert daily_columns({"Average": gauge["Average"]}, counter=False, first=first)[0] == ()

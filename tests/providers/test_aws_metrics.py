"""AWS provider metrics: exact daily statistics, the metric mapping, batching to the API limits."""

from __future__ import annotations

import gc
import math
from array import array
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cloudios.domain import Metric, Provider, Resource
from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE, ELB, NAT_GATEWAY, RDS_INSTANCE
from cloudios.emulators.aws.server import set_cloudwatch_page_datapoints
from cloudios.providers.aws.collect import collect
from cloudios.providers.aws.metrics import (
    Query,
    batches,
    iter_queries,
    plan_queries,
    queries_per_call,
    window,
)
from cloudios.providers.aws.summaries import Summarizer, daily_columns
from cloudios.providers.aws.tuning import AwsTuning
from tests.providers.aws_helpers import EC2_METRICS, launch, put_hourly
from tests.support.moto import ACCOUNT_A, AwsEnv, Fault, FaultProxy

pytestmark = pytest.mark.aws

END = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # window: [2026-03-03, 2026-03-10)
DAY1 = datetime(2026, 3, 4, tzinfo=UTC)
DAY3 = datetime(2026, 3, 6, tzinfo=UTC)


def test_window_ends_at_utc_midnight() -> None:
    start, end = window(datetime(2026, 3, 10, 23, 59, tzinfo=UTC), 7)
    assert (start, end) == (datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))


@pytest.mark.parametrize(
    ("days", "max_points", "expected"),
    [(90, 100_800, 500), (1, 100_800, 500), (30, 1_000, 33), (90, 45_000, 500), (90, 44_999, 499)],
)
def test_queries_per_call_obeys_both_limits(days: int, max_points: int, expected: int) -> None:
    assert queries_per_call(days, 500, max_points) == expected


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
        aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=EC2_METRICS, lookback_days=7, end=END)
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
    needs += [(ELB, Metric.REQUEST_COUNT)]

    snapshot = collect(
        aws_env.request(
            ACCOUNT_A,
            kinds=[EBS_VOLUME, NAT_GATEWAY, RDS_INSTANCE, ELB],
            metrics=needs,
            lookback_days=7,
            end=END,
        )
    ).snapshot

    for _, name, _, _, resource_id, metric, level in seeded:
        (day,) = snapshot.metric(resource_id, metric).daily
        assert (day.average, day.maximum, day.samples) == (level, level, 4), name


def test_get_metric_data_calls_are_the_lower_bound(aws_env: AwsEnv) -> None:
    east = launch(aws_env.client("ec2", ACCOUNT_A, "us-east-1"), 130, separate=False)
    west = launch(aws_env.client("ec2", ACCOUNT_A, "eu-west-1"), 20, separate=False)
    per_instance = 4 + 3 + 3  # CPU: Average, Maximum, SampleCount, p99; counters: Sum, Maximum, SampleCount
    lower_bound = math.ceil(len(east) * per_instance / 500) + math.ceil(len(west) * per_instance / 500)

    result = collect(
        aws_env.request(
            ACCOUNT_A,
            regions=("us-east-1", "eu-west-1"),
            kinds=[EC2_INSTANCE],
            metrics=EC2_METRICS,
            lookback_days=90,
        )
    )

    assert lower_bound == 4
    assert result.api_calls["cloudwatch.GetMetricData"] == lower_bound  # the emulator refuses > 500 queries
    assert "cloudwatch.GetMetricData.retries" not in result.api_calls


def test_next_token_pages_are_followed(aws_env: AwsEnv) -> None:
    instances = launch(aws_env.client("ec2", ACCOUNT_A), 3)
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    for k, iid in enumerate(instances):
        for day in range(5):
            start = DAY1 + timedelta(days=day)
            put_hourly(
                cw,
                "AWS/EC2",
                "CPUUtilization",
                dimension="InstanceId",
                value=iid,
                start=start,
                values=[k, 50],
            )
    request = aws_env.request(
        ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=EC2_METRICS[:1], lookback_days=7, end=END
    )
    whole = collect(request)

    old = set_cloudwatch_page_datapoints(4)  # 3 instances x 3 statistics x 5 days = 45 points
    try:
        paged = collect(request)
    finally:
        set_cloudwatch_page_datapoints(old)

    assert whole.api_calls["cloudwatch.GetMetricData"] == 1
    assert paged.api_calls["cloudwatch.GetMetricData"] == math.ceil(45 / 4)
    assert paged.snapshot.metrics == whole.snapshot.metrics
    assert [d.samples for d in paged.snapshot.metric(instances[0], Metric.CPU_UTILIZATION).daily] == [2] * 5


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
                ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=EC2_METRICS[:1], lookback_days=7, end=END
            ),
            tuning=AwsTuning(max_attempts=2),
        )
    finally:
        proxy.close()

    (day,) = result.snapshot.metric(iid, Metric.CPU_UTILIZATION).daily
    assert (day.average, day.maximum, day.samples, day.p99) == (2.0, 3.0, 2, None)
    assert proxy.count("monitoring", "GetMetricData", 500) == 2  # both attempts of the first call
    assert any("p99" in w and "HTTP 500" in w for w in result.warnings)


def test_a_naive_end_is_utc() -> None:
    assert window(datetime(2026, 3, 10, 23, 59), 1) == (  # noqa: DTZ001 - the point of the test
        datetime(2026, 3, 9, tzinfo=UTC),
        datetime(2026, 3, 10, tzinfo=UTC),
    )


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
            end=END,
        )
    ).snapshot

    (day,) = snapshot.metric("orders", Metric.MEMORY_AVAILABLE_BYTES).daily
    assert (day.minimum, day.average, day.maximum, day.samples) == (1 * gib, 2.5 * gib, 4 * gib, 4)


def test_rds_and_ebs_metrics_ride_the_same_batches_at_the_lower_bound(aws_env: AwsEnv) -> None:
    ec2, rds = aws_env.clients(ACCOUNT_A, "us-east-1", "ec2", "rds")
    instances = launch(ec2, 40, separate=False)  # each with a root volume
    for i in range(5):
        rds.create_db_instance(
            DBInstanceIdentifier=f"db-{i}",
            DBInstanceClass="db.r5.large",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="not-a-real-password",
        )
    needs = [
        *EC2_METRICS,
        (EBS_VOLUME, Metric.VOLUME_READ_OPS),
        (EBS_VOLUME, Metric.VOLUME_WRITE_OPS),
        (RDS_INSTANCE, Metric.CPU_UTILIZATION),
        (RDS_INSTANCE, Metric.MEMORY_AVAILABLE_BYTES),
        (RDS_INSTANCE, Metric.DB_CONNECTIONS),
    ]
    result = collect(
        aws_env.request(
            ACCOUNT_A, kinds=[EC2_INSTANCE, EBS_VOLUME, RDS_INSTANCE], metrics=needs, lookback_days=90
        )
    )

    volumes = len(result.snapshot.of_kind(EBS_VOLUME))
    assert volumes >= len(instances)
    # EC2: 4 (CPU with p99) + 3 + 3; EBS: 3 + 3; RDS: 4 (CPU) + 4 (FreeableMemory with Minimum) + 3.
    queries = len(instances) * 10 + volumes * 6 + 5 * 11
    assert queries > 500
    assert result.api_calls["cloudwatch.GetMetricData"] == math.ceil(queries / 500)


def test_agent_memory_rides_in_the_same_batches(aws_env: AwsEnv) -> None:
    with_agent, without = launch(aws_env.client("ec2", ACCOUNT_A), 2)
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    put_hourly(
        cw,
        "CWAgent",
        "mem_used_percent",
        dimension="InstanceId",
        value=with_agent,
        start=DAY1,
        values=[30, 50],
    )
    metrics = (*EC2_METRICS, (EC2_INSTANCE, Metric.MEMORY_USED_PERCENT))

    result = collect(
        aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=metrics, lookback_days=7, end=END)
    )

    memory = result.snapshot.metric(with_agent, Metric.MEMORY_USED_PERCENT)
    assert [(d.day, d.average, d.maximum, d.samples) for d in memory.daily] == [
        (date(2026, 3, 4), 40.0, 50.0, 2)
    ]
    assert result.snapshot.metric(without, Metric.MEMORY_USED_PERCENT).daily == ()  # no agent: not measured
    assert result.api_calls["cloudwatch.GetMetricData"] == 1  # 2 x (4 + 3 + 3 + 4) queries: one call


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


def test_queries_are_planned_as_batches_are_sent(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    instances = launch(aws_env.client("ec2", ACCOUNT_A), 30, separate=False)
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    for k, iid in enumerate(instances):
        for name in ("CPUUtilization", "NetworkOut"):
            put_hourly(
                cw, "AWS/EC2", name, dimension="InstanceId", value=iid, start=DAY1, values=[k, 2 * k + 1]
            )
    request = aws_env.request(
        ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=EC2_METRICS, lookback_days=7, end=END, max_concurrency=2
    )
    whole = collect(request)  # 30 x (4 + 3 + 3) = 300 queries: one call

    alive: list[int] = []
    add = Summarizer.add

    def counting(self: Summarizer, batch: Any) -> None:
        alive.append(sum(isinstance(o, Query) for o in gc.get_objects()))
        add(self, batch)

    monkeypatch.setattr(Summarizer, "add", counting)
    per_call = 7  # not a multiple of 3 or 4: series straddle two batches
    small = collect(request, tuning=AwsTuning(max_queries_per_call=per_call))

    assert whole.api_calls["cloudwatch.GetMetricData"] == 1
    assert small.api_calls["cloudwatch.GetMetricData"] == math.ceil(300 / per_call)
    assert small.snapshot.metrics == whole.snapshot.metrics
    cpu = small.snapshot.metric(instances[3], Metric.CPU_UTILIZATION)
    assert [(d.day, d.average, d.maximum, d.samples) for d in cpu.daily] == [(date(2026, 3, 4), 5.0, 7.0, 2)]
    # Two batches per worker in flight, the one being summarized and the next being planned;
    # never the whole plan of 300.
    assert len(alive) == math.ceil(300 / per_call)
    assert max(alive) <= (2 * 2 + 2) * per_call < 300


def test_batches_are_cut_lazily() -> None:
    pulled = 0

    def numbers() -> Any:
        nonlocal pulled
        for i in range(10):
            pulled += 1
            yield i

    cut = batches(numbers(), 3)  # type: ignore[arg-type]
    assert next(cut) == (0, 1, 2)
    assert pulled == 3
    assert list(cut) == [(3, 4, 5), (6, 7, 8), (9,)]


def test_iter_queries_keeps_a_series_statistics_together() -> None:
    vm = Resource(
        provider=Provider.AWS, account_id=ACCOUNT_A, region="us-east-1", kind=EC2_INSTANCE, id="i-0a"
    )
    stats = [(q.metric, q.stat) for q in iter_queries([vm], {EC2_INSTANCE: [m for _, m in EC2_METRICS]})]
    assert [m for m, _ in stats] == [Metric.CPU_UTILIZATION] * 4 + [Metric.NETWORK_IN_BYTES] * 3 + [
        Metric.NETWORK_OUT_BYTES
    ] * 3


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

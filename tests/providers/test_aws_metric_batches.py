"""AWS provider metrics: GetMetricData batches at the API limits, pages, lazy planning."""

from __future__ import annotations

import gc
import math
from datetime import date, timedelta
from typing import Any

import pytest

from cloudios.domain import Metric, Provider, Resource
from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE, ELB, RDS_INSTANCE
from cloudios.emulators.aws.server import set_cloudwatch_page_datapoints
from cloudios.providers.aws.collect import collect
from cloudios.providers.aws.metrics import Query, batches, iter_queries, queries_per_call
from cloudios.providers.aws.summaries import Summarizer
from cloudios.providers.aws.tuning import AwsTuning
from tests.providers.aws_helpers import DAY1, EC2_METRICS, METRICS_END, launch, put_hourly
from tests.support.moto import ACCOUNT_A, AwsEnv

pytestmark = pytest.mark.aws


@pytest.mark.parametrize(
    ("days", "max_points", "expected"),
    [(90, 100_800, 500), (1, 100_800, 500), (30, 1_000, 33), (90, 45_000, 500), (90, 44_999, 499)],
)
def test_queries_per_call_obeys_both_limits(days: int, max_points: int, expected: int) -> None:
    assert queries_per_call(days, 500, max_points) == expected


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
        ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=EC2_METRICS[:1], lookback_days=7, end=METRICS_END
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


def test_load_balancer_5xx_queries_share_the_batches(aws_env: AwsEnv) -> None:
    """The closed loop's error counts (application load balancers only) ride in the same batches: the
    calls grow by their share of the 500-query batches, and no other call is made for them."""
    ec2, elb = aws_env.clients(ACCOUNT_A, "us-east-1", "ec2", "elbv2")
    instances = launch(ec2, 40, separate=False)
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    albs, nlbs = 20, 5
    for i in range(albs + nlbs):
        kind = "application" if i < albs else "network"
        elb.create_load_balancer(Name=f"lb-{i}", Subnets=subnets, Type=kind)
    base = (*EC2_METRICS, (ELB, Metric.REQUEST_COUNT))
    errors = ((ELB, Metric.LB_TARGET_5XX_COUNT), (ELB, Metric.LB_5XX_COUNT))

    def calls(metrics: tuple[tuple[str, Metric], ...]) -> dict[str, int]:
        request = aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE, ELB], metrics=metrics, lookback_days=90)
        return dict(collect(request).api_calls)

    without, with_errors = calls(base), calls((*base, *errors))

    before = len(instances) * 10 + (albs + nlbs) * 3  # EC2: 4 + 3 + 3; requests or new flows: 3
    added = albs * 2 * 3  # two counters (Sum, Maximum, SampleCount) per ALB; an NLB has no 5xx
    assert (before, before + added) == (475, 595)
    assert without["cloudwatch.GetMetricData"] == math.ceil(before / 500) == 1
    assert with_errors["cloudwatch.GetMetricData"] == math.ceil((before + added) / 500) == 2
    assert {k: v for k, v in with_errors.items() if not k.startswith("cloudwatch.")} == {
        k: v for k, v in without.items() if not k.startswith("cloudwatch.")
    }


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
        aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE], metrics=metrics, lookback_days=7, end=METRICS_END)
    )

    memory = result.snapshot.metric(with_agent, Metric.MEMORY_USED_PERCENT)
    assert [(d.day, d.average, d.maximum, d.samples) for d in memory.daily] == [
        (date(2026, 3, 4), 40.0, 50.0, 2)
    ]
    assert result.snapshot.metric(without, Metric.MEMORY_USED_PERCENT).daily == ()  # no agent: not measured
    assert result.api_calls["cloudwatch.GetMetricData"] == 1  # 2 x (4 + 3 + 3 + 4) queries: one call


def test_queries_are_planned_as_batches_are_sent(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    instances = launch(aws_env.client("ec2", ACCOUNT_A), 30, separate=False)
    cw: Any = aws_env.client("cloudwatch", ACCOUNT_A)
    for k, iid in enumerate(instances):
        for name in ("CPUUtilization", "NetworkOut"):
            put_hourly(
                cw, "AWS/EC2", name, dimension="InstanceId", value=iid, start=DAY1, values=[k, 2 * k + 1]
            )
    request = aws_env.request(
        ACCOUNT_A,
        kinds=[EC2_INSTANCE],
        metrics=EC2_METRICS,
        lookback_days=7,
        end=METRICS_END,
        max_concurrency=2,
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

"""Properties of the modules over generated metric histories (hypothesis)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cloudios import pricing
from cloudios.domain import Confidence, DailyStat, Metric, MetricSummary, Provider, Resource, Snapshot
from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE, ELB, NAT_GATEWAY, RDS_INSTANCE
from cloudios.modules import confidence, registry
from cloudios.modules.aws import catalog
from cloudios.modules.aws.ebs_gp2_to_gp3 import gp3_equivalent
from cloudios.modules.aws.ebs_io_to_gp3 import io_throughput
from cloudios.modules.aws.ec2_idle import Ec2IdleSettings
from cloudios.modules.aws.ec2_rightsize import Ec2RightsizeSettings
from cloudios.pricing import aws as aws_pricing

NOW = datetime(2025, 1, 15, tzinfo=UTC)
CONFIDENT = {Confidence.HIGH, Confidence.MEDIUM}


def cpu_day() -> st.SearchStrategy[tuple[float, float, float | None]]:
    """(average, maximum, p95 or None) with average <= p95 <= maximum."""
    return st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(0, 100), st.booleans()).map(
        lambda t: (min(t[:3]), max(t[:3]), sorted(t[:3])[1] if t[3] else None)
    )


def summary(
    resource_id: str, metric: Metric, days: Sequence[tuple[float, float, float | None]]
) -> MetricSummary:
    stats = tuple(
        DailyStat(
            day=(NOW - timedelta(days=len(days) - i)).date(),
            average=a,
            maximum=m,
            p95=p,
            sum=a * 288,
            samples=288,
        )
        for i, (a, m, p) in enumerate(days)
    )
    return MetricSummary(resource_id=resource_id, metric=metric, lookback_days=30, daily=stats)


def snapshot(resource: Resource, metrics: dict[Metric, MetricSummary]) -> Snapshot:
    return Snapshot(
        provider=Provider.AWS,
        account_id="123456789012",
        collected_at=NOW,
        lookback_days=30,
        resources=(resource,),
        metrics={resource.id: metrics},
    )


def instance(instance_type: str = "m5.2xlarge") -> Resource:
    return Resource(
        provider=Provider.AWS,
        account_id="123456789012",
        region="us-east-1",
        kind=EC2_INSTANCE,
        id="i-0123",
        attributes={"instanceType": instance_type, "state": "running"},
    )


@settings(max_examples=300)
@given(days=st.lists(cpu_day(), min_size=1, max_size=30), net=st.floats(0, 1e8))
def test_ec2_idle_never_fires_when_a_daily_peak_reaches_the_threshold(
    days: list[tuple[float, float, float | None]], net: float
) -> None:
    module = registry.get("aws.ec2.idle")
    found = module.run(
        snapshot(
            instance(),
            {
                Metric.CPU_UTILIZATION: summary("i-0123", Metric.CPU_UTILIZATION, days),
                Metric.NETWORK_IN_BYTES: summary(
                    "i-0123", Metric.NETWORK_IN_BYTES, [(net / 288, net, None)] * len(days)
                ),
            },
        )
    )
    defaults = Ec2IdleSettings()
    peaks = [p if p is not None else m for _a, m, p in days]
    if found:
        assert max(peaks) < defaults.cpu_peak_threshold
        assert max(a for a, _m, _p in days) < defaults.cpu_average_threshold
        assert sum(m >= defaults.cpu_peak_threshold for _a, m, _p in days) <= defaults.max_spike_days
        assert len(days) >= defaults.min_days
        if len(days) < confidence.HIGH_DAYS:
            assert found[0].confidence is not Confidence.HIGH


@settings(max_examples=200)
@given(n_days=st.integers(1, 6), min_days=st.integers(1, 6), level=st.floats(0, 3))
def test_thin_data_never_gives_high_or_medium(n_days: int, min_days: int, level: float) -> None:
    days = [(level, level, level)] * n_days
    cases = [
        ("aws.ec2.idle", instance("m5.large"), [Metric.CPU_UTILIZATION]),
        ("aws.ec2.rightsize", instance("m5.2xlarge"), [Metric.CPU_UTILIZATION]),
        ("aws.ec2.graviton", instance("m5.xlarge"), [Metric.CPU_UTILIZATION]),
        (
            "aws.rds.idle",
            Resource(
                provider=Provider.AWS,
                account_id="1",
                region="us-east-1",
                kind=RDS_INSTANCE,
                id="db",
                attributes={"dbInstanceClass": "db.m5.large", "engine": "mysql", "status": "available"},
            ),
            [Metric.DB_CONNECTIONS],
        ),
        (
            "aws.nat.idle",
            Resource(
                provider=Provider.AWS,
                account_id="1",
                region="us-east-1",
                kind=NAT_GATEWAY,
                id="nat",
                created_at=NOW - timedelta(days=n_days),
                attributes={"state": "available"},
            ),
            [Metric.NAT_BYTES_OUT],
        ),
        (
            "aws.elb.idle",
            Resource(
                provider=Provider.AWS,
                account_id="1",
                region="us-east-1",
                kind=ELB,
                id="lb",
                attributes={
                    "type": "application",
                    "registeredTargets": 2,
                    "createdTime": (NOW - timedelta(days=n_days)).isoformat(),
                },
            ),
            [Metric.REQUEST_COUNT],
        ),
    ]
    for name, resource, metrics in cases:
        module = registry.get(name)
        chosen = module.spec.settings.model_validate({"minDays": min_days})
        snap = snapshot(resource, {m: summary(resource.id, m, days) for m in metrics})
        for finding in module.run(snap, chosen):
            assert finding.confidence is Confidence.LOW, (name, n_days, finding.confidence)


@given(days=st.integers(-5, 120), min_days=st.integers(1, 90))
def test_confidence_grows_with_days_and_respects_the_minimum(days: int, min_days: int) -> None:
    level = confidence.for_days(days, min_days)
    if days < min_days or days <= 0:
        assert level is None
        return
    assert level is not None
    more = confidence.for_days(days + 1, min_days)
    assert more is not None
    rank = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}
    assert rank[more] >= rank[level]
    if days < confidence.THIN_DAYS:
        assert level is Confidence.LOW
    assert confidence.cap(level, Confidence.LOW) is Confidence.LOW


NON_BURSTABLE = sorted(n for n, t in catalog.load().types.items() if not t.burstable)
BOOK = aws_pricing.bundled()  # read once here, not inside an example's deadline


@settings(max_examples=300)
@given(
    instance_type=st.sampled_from(NON_BURSTABLE),
    p95=st.floats(0, 100),
    headroom=st.floats(0, 1),
    floor=st.floats(0.1, 1),
)
def test_rightsize_proposals_fit_the_need_and_cost_less(
    instance_type: str, p95: float, headroom: float, floor: float
) -> None:
    chosen = Ec2RightsizeSettings(headroom=headroom, memory_floor_ratio=floor)
    days = [(p95 / 2, p95, p95)] * 14
    module = registry.get("aws.ec2.rightsize")
    found = module.run(
        snapshot(
            instance(instance_type), {Metric.CPU_UTILIZATION: summary("i-0123", Metric.CPU_UTILIZATION, days)}
        ),
        chosen,
    )
    if not found:
        return
    current = catalog.load().types[instance_type]
    target = catalog.load().types[found[0].proposed["instanceType"]]
    assert target.family == current.family
    assert target.vcpu < current.vcpu
    assert target.vcpu >= current.vcpu * p95 / 100 * (1 + headroom) - 1e-9
    assert target.memory_gib >= current.memory_gib * floor - 1e-9
    assert found[0].confidence is not Confidence.HIGH  # memory is not measured
    saved = pricing.savings(found[0], BOOK)
    assert saved is not None
    assert saved.amount > 0


@given(size=st.integers(1, 16384))
def test_gp3_proposal_keeps_gp2_performance(size: int) -> None:
    iops, throughput = gp3_equivalent(size)
    assert iops >= min(max(100, 3 * size), 16000)  # gp2 baseline
    assert iops >= 3000  # gp2 burst
    # Above 170 GB gp2 reaches 250 MiB/s; up to 170 GB it peaks at 128, gp3 sustains 125.
    assert throughput == (250 if size > 170 else 125)


@settings(max_examples=300)
@given(
    volume_type=st.sampled_from(["io1", "io2"]),
    size=st.integers(4, 16_384),
    iops=st.integers(100, 64_000),
    max_iops=st.integers(1, 16_000),
)
def test_io_to_gp3_keeps_the_performance_and_always_saves(
    volume_type: str, size: int, iops: int, max_iops: int
) -> None:
    volume = Resource(
        provider=Provider.AWS,
        account_id="123456789012",
        region="us-east-1",
        kind=EBS_VOLUME,
        id="vol-1",
        attributes={"volumeType": volume_type, "sizeGb": size, "iops": iops, "state": "in-use"},
    )
    module = registry.get("aws.ebs.io_to_gp3")
    found = module.run(snapshot(volume, {}), module.spec.settings.model_validate({"maxIops": max_iops}))
    if iops > max_iops:
        assert found == []
        return
    if not found:  # only gp3's own limits may refuse it
        assert iops > 3000
        assert iops > 500 * size
        return
    proposed = found[0].proposed
    assert proposed["iops"] == max(3000, iops)
    assert proposed["throughputMiBps"] >= io_throughput(iops)
    assert proposed["throughputMiBps"] <= min(1000, proposed["iops"] / 4)
    saving = pricing.savings(found[0], aws_pricing.bundled())
    assert saving is not None
    assert saving.amount > 0

"""The bundled EC2 instance-type catalogue: specs, successors, Graviton equivalents, RDS classes, prices."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from cloudios import pricing
from cloudios.domain import Provider, Resource, Snapshot
from cloudios.domain.resource import RDS_INSTANCE
from cloudios.modules import registry
from cloudios.modules.aws import catalog, ec2_graviton, rds_classes, rds_rightsize
from cloudios.pricing import aws as aws_pricing

TYPES = catalog.load().types


@pytest.mark.parametrize(
    ("name", "vcpu", "memory"),
    [
        ("t3.nano", 2, 0.5),
        ("t2.micro", 1, 1),
        ("m5.large", 2, 8),
        ("m5.24xlarge", 96, 384),
        ("m6g.medium", 1, 4),
        ("c4.8xlarge", 36, 60),
        ("c5.9xlarge", 36, 72),
        ("c6i.32xlarge", 128, 256),
        ("r4.large", 2, 15.25),
        ("r6a.48xlarge", 192, 1536),
        ("m3.medium", 1, 3.75),
        ("i3.16xlarge", 64, 488),
        ("x1.32xlarge", 128, 1952),
    ],
)
def test_known_specs(name: str, vcpu: int, memory: float) -> None:
    assert (TYPES[name].vcpu, TYPES[name].memory_gib) == (vcpu, memory)


def test_families_grow_with_size_and_agree_on_their_attributes() -> None:
    families = {t.family for t in TYPES.values()}
    for family in families:
        members = catalog.load().family(family)
        assert len({(m.generation, m.architecture, m.burstable, m.family_class) for m in members}) == 1
        for small, big in itertools.pairwise(members):
            assert small.vcpu <= big.vcpu
            assert small.memory_gib < big.memory_gib


def test_successors_are_current_same_class_same_architecture() -> None:
    previous = [t for t in TYPES.values() if t.previous_generation]
    assert {"t2", "m4", "c4", "r4", "m3", "c3", "r3", "i2", "d2", "t1", "m1", "c1"} <= {
        t.family for t in previous
    }
    for t in previous:
        for family in t.successors:
            members = catalog.load().family(family)
            assert members, family
            assert all(m.generation == "current" for m in members)
            assert all(m.architecture == t.architecture for m in members)
    for t in TYPES.values():
        if not t.previous_generation:
            assert t.successors == ()


def test_graviton_families_are_arm() -> None:
    for name in ("t4g.micro", "m6g.large", "m7g.large", "c6g.large", "c7g.large", "r6g.large", "r7g.large"):
        assert TYPES[name].architecture == "arm64"
    assert TYPES["m7i.large"].architecture == "x86_64"


def test_every_catalogued_type_has_a_us_east_1_price() -> None:
    book = aws_pricing.bundled()
    missing = [n for n in TYPES if book.instance_hourly("us-east-1", n) is None]
    assert missing == []


@pytest.mark.parametrize(
    ("x86", "arm"),
    [
        ("m5.xlarge", ["m6g.xlarge", "m7g.xlarge"]),
        ("m5a.2xlarge", ["m6g.2xlarge", "m7g.2xlarge"]),
        ("c5.large", ["c6g.large", "c7g.large"]),
        ("r5.4xlarge", ["r6g.4xlarge", "r7g.4xlarge"]),
        ("t3.medium", ["t4g.medium"]),
        ("t2.micro", []),  # 1 vCPU: t4g.micro has 2
        ("m5.24xlarge", []),
        ("i3.large", []),
        ("m6g.large", []),
    ],
)
def test_graviton_equivalents_keep_class_shape_and_burstability(x86: str, arm: list[str]) -> None:
    current = TYPES[x86]
    found = ec2_graviton.equivalents(current)
    assert [t.name for t in found] == arm
    for t in found:
        assert (t.architecture, t.family_class, t.burstable) == (
            "arm64",
            current.family_class,
            current.burstable,
        )
        assert (t.vcpu, t.memory_gib) == (current.vcpu, current.memory_gib)


def test_rds_classes_have_ec2_shapes_and_only_sold_sizes() -> None:
    assert rds_classes.describe("db.r5.large") == TYPES["r5.large"]
    assert rds_classes.describe("db.m3.medium") == TYPES["m3.medium"]  # an old class RDS sold
    assert rds_classes.describe("db.m6g.medium") is None  # current families start at large
    assert rds_classes.describe("db.t3.nano") is None
    assert rds_classes.describe("db.serverless") is None
    assert rds_classes.describe("m5.large") is None
    assert [t.size for t in rds_classes.family("m5")][:2] == ["large", "xlarge"]
    for old, successors in rds_classes.SUCCESSORS.items():
        assert TYPES[f"{old}.{catalog.load().family(old)[0].size}"].previous_generation
        for family in successors:
            assert all(not t.previous_generation for t in rds_classes.family(family))
    assert rds_rightsize.one_size_down(TYPES["r5.2xlarge"]) == TYPES["r5.xlarge"]
    assert rds_rightsize.one_size_down(TYPES["m5.large"]) is None


def test_rds_default_connection_limits_follow_the_engine_formulas() -> None:
    assert rds_rightsize.default_max_connections("mysql", 16) == 1365
    assert rds_rightsize.default_max_connections("postgres", 16) == 1802
    assert rds_rightsize.default_max_connections("postgres", 768) == 5000
    assert rds_rightsize.default_max_connections("oracle-ee", 16) is None


def test_rds_previous_generation_picks_the_cheapest_priced_successor(monkeypatch: pytest.MonkeyPatch) -> None:
    book = aws_pricing.bundled()
    east = book.regions["us-east-1"]
    postgres = {**east.rds["postgres"], "db.m4.large": Decimal("0.182")}
    priced = book.model_copy(
        update={
            "regions": {
                **book.regions,
                "us-east-1": east.model_copy(update={"rds": {**east.rds, "postgres": postgres}}),
            }
        }
    )
    monkeypatch.setattr(aws_pricing, "bundled", lambda: priced)
    db = Resource(
        provider=Provider.AWS,
        account_id="123456789012",
        region="us-east-1",
        kind=RDS_INSTANCE,
        id="legacy",
        attributes={
            "dbInstanceClass": "db.m4.large",
            "engine": "postgres",
            "multiAz": True,
            "status": "available",
        },
    )
    snapshot = Snapshot(
        provider=Provider.AWS,
        account_id="123456789012",
        collected_at=datetime(2025, 1, 15, tzinfo=UTC),
        lookback_days=14,
        resources=(db,),
    )
    (finding,) = registry.get("aws.rds.previous_generation").run(snapshot)
    cheapest = min(
        (t for f in ("m5", "m6i") for t in rds_classes.family(f) if t.vcpu >= 2 and t.memory_gib >= 8),
        key=lambda t: postgres.get(rds_classes.name(t), Decimal(99)),
    )
    assert finding.proposed["dbInstanceClass"] == rds_classes.name(cheapest)
    assert finding.confidence.value == "high"
    saving = pricing.savings(finding, priced)
    assert saving is not None
    assert saving.amount == (Decimal("0.182") - postgres[rds_classes.name(cheapest)]) * 2 * 730  # Multi-AZ

"""The Kubernetes modules' safety rules and the node price split, over generated inputs (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudios.domain import HOURS_PER_MONTH, Finding, Provider, Resource, Usage
from cloudios.domain import kubernetes as k8s
from cloudios.modules.kubernetes import drain, sizing
from cloudios.modules.kubernetes.workload_rightsize import WorkloadRightsizeSettings
from cloudios.pipeline.dedupe import dedupe
from cloudios.pricing import PriceBook
from cloudios.pricing import kubernetes as k8s_pricing
from cloudios.pricing.kubernetes import clouds

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
WINDOW_START = NOW - timedelta(days=14)
MIB = 1024**2
DEFAULTS = WorkloadRightsizeSettings()


def _container(
    requests: tuple[int | None, int | None],
    limits: tuple[int | None, int | None],
    cpu_p95: float,
    peak: float,
    oom: datetime | None,
) -> Resource:
    return Resource(
        provider=Provider.KUBERNETES,
        account_id="c",
        region="europe-west1",
        kind=k8s.K8S_CONTAINER,
        id="ns/Deployment/w/app",
        attributes={
            "container": "app",
            "requests": {"cpuM": requests[0], "memoryBytes": requests[1]},
            "limits": {"cpuM": limits[0], "memoryBytes": limits[1]},
            "cpu": {"samples": 4000, "p95": cpu_p95, "p99": cpu_p95 * 1.2},
            "memory": {"samples": 4000, "max": peak},
            "lastOomKilledAt": oom.isoformat() if oom else None,
        },
    )


quantity = st.one_of(st.none(), st.integers(1, 64_000))
memory = st.one_of(st.none(), st.integers(MIB, 64 * 1024 * MIB))


@settings(max_examples=300, deadline=None)
@given(
    requests=st.tuples(quantity, memory),
    limits=st.tuples(quantity, memory),
    cpu_p95=st.floats(0, 64_000),
    peak=st.floats(0, 64 * 1024 * MIB),
    oom_days_ago=st.one_of(st.none(), st.integers(0, 60)),
    hpa=st.sets(st.sampled_from(["cpu", "memory", "other"])),
)
def test_sizing_never_risks_memory_and_keeps_limits_at_or_above_requests(
    *,
    requests: tuple[int | None, int | None],
    limits: tuple[int | None, int | None],
    cpu_p95: float,
    peak: float,
    oom_days_ago: int | None,
    hpa: set[str],
) -> None:
    oom = None if oom_days_ago is None else NOW - timedelta(days=oom_days_ago)
    found = sizing.size(
        _container(requests, limits, cpu_p95, peak, oom), DEFAULTS, window_start=WINDOW_START, hpa_metrics=hpa
    )
    new_cpu, new_memory = found.proposed_requests
    if found.memory is not None:
        # Never below the peak with its margin, nor below the floor.
        assert new_memory >= peak * (1 + DEFAULTS.memory_headroom) - 1
        assert new_memory >= DEFAULTS.min_memory_mib * MIB
    if oom is not None and oom >= WINDOW_START:
        assert found.memory != "decrease", "an OOMKilled container never gets less memory"
        if found.memory == "increase":
            killed_at = limits[1] or requests[1] or int(peak)
            assert new_memory >= killed_at * DEFAULTS.oom_bump - 1
    if "cpu" in hpa:
        assert found.cpu is None
        assert new_cpu == (requests[0] or 0)
    if "memory" in hpa:
        assert found.memory is None
    for old_limit, new_limit, new_request in zip(
        found.limits, found.proposed_limits, found.proposed_requests, strict=True
    ):
        if old_limit:
            assert new_limit >= old_limit, "limits never go down"
            assert new_limit >= new_request, "a request never exceeds its limit"
        else:
            assert new_limit == 0, "an unset limit stays unset"


@settings(max_examples=200, deadline=None)
@given(
    pods=st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 16 * 1024)), max_size=12),
    rooms=st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 16 * 1024)), min_size=1, max_size=5),
)
def test_a_packing_that_fits_never_overfills_a_room(
    pods: list[tuple[int, int]], rooms: list[tuple[int, int]]
) -> None:
    items = [drain.Pod(f"p{i}", c, m) for i, (c, m) in enumerate(pods)]
    bins = [drain.Room(f"n{i}", c, m, None, None) for i, (c, m) in enumerate(rooms)]
    before = {r.name: (r.cpu_m, r.memory) for r in bins}
    packing = drain.pack(items, bins, arch=None, scale=(4000, 16 * 1024))
    if not packing.fits:
        assert {r.name: (r.cpu_m, r.memory) for r in bins} == before, "a failed drain changes nothing"
        return
    for room in bins:
        placed = [p for p in items if packing.placements[p.name] == room.name]
        assert sum(p.cpu_m for p in placed) <= before[room.name][0]
        assert sum(p.memory for p in placed) <= before[room.name][1]
        assert room.cpu_m >= 0
        assert room.memory >= 0


def _node_line(sku: str, quantity: Decimal = Decimal(1), **attributes: str) -> Usage:
    base = {
        "cloud": "gcp",
        "instanceType": "e2-standard-4",
        "capacityType": "on-demand",
        "nodeCpuM": "4000",
        "nodeMemoryBytes": str(16 * 1024**3),
    }
    return Usage(sku=sku, region="europe-west1", attributes={**base, **attributes}, quantity=quantity)


def test_the_cpu_and_memory_shares_add_up_to_the_node_price_at_opencosts_ratio() -> None:
    book = k8s_pricing.bundled()
    node = book.monthly(_node_line(k8s.NODE))
    cpu = book.monthly(_node_line(k8s.NODE_CPU, Decimal(4)))
    memory = book.monthly(_node_line(k8s.NODE_MEMORY, Decimal(16)))
    assert node is not None
    assert cpu is not None
    assert memory is not None
    assert node.amount == Decimal("0.14743092") * HOURS_PER_MONTH
    assert abs(cpu.amount + memory.amount - node.amount) < Decimal("0.00001")
    per_core, per_gib = k8s_pricing.split_node_hourly(Decimal("0.14743092"), 4000, 16 * 1024**3)
    assert abs(per_core / per_gib - k8s_pricing.CPU_TO_RAM_RATIO) < Decimal("1e-20")
    assert k8s_pricing.CPU_TO_RAM_RATIO.quantize(Decimal("0.01")) == Decimal("7.46")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (_node_line(k8s.NODE, capacityType="spot"), "on-demand prices only"),
        (_node_line(k8s.NODE, cloud=""), "its cloud is unknown"),
        (_node_line(k8s.NODE, instanceType=""), "no node.kubernetes.io/instance-type label"),
        (
            _node_line(k8s.NODE, instanceType="e2-imaginary-7"),
            "no list price for gce.instance e2-imaginary-7",
        ),
        (_node_line(k8s.NODE_CPU, nodeCpuM="0"), "capacity are unknown"),
        (Usage(sku=k8s.LOAD_BALANCER, region="europe-west1", attributes={"cloud": "gcp"}), "forwarding-rule"),
        (
            Usage(
                sku=k8s.DISK, region="westeurope", attributes={"cloud": "azure", "diskType": "PremiumV2_LRS"}
            ),
            "bill per GiB",
        ),
        (Usage(sku=k8s.INCREASE, region="x", attributes={"detail": "raises CPU"}), "no saving: raises CPU"),
        (Usage(sku="k8s.something", region="x"), "does not price k8s.something"),
    ],
)
def test_what_the_book_cannot_price_it_says_why(line: Usage, reason: str) -> None:
    book: PriceBook = k8s_pricing.bundled()
    assert book.monthly(line) is None
    assert reason in book.missing(line)


def test_disks_and_load_balancers_go_through_the_clouds_books() -> None:
    book = k8s_pricing.bundled()
    gp3 = Usage(
        sku=k8s.DISK,
        region="us-east-1",
        attributes={"cloud": "aws", "diskType": "gp3"},
        quantity=Decimal(100),
    )
    assert book.monthly(gp3) is not None
    nlb = book.monthly(Usage(sku=k8s.LOAD_BALANCER, region="us-east-1", attributes={"cloud": "aws"}))
    assert nlb is not None
    assert nlb.amount > 0
    assert clouds.azure_disk_tier("Premium_LRS", Decimal(100)) == "P10 LRS"
    assert clouds.azure_disk_tier("Standard_LRS", Decimal(10)) == "S4 LRS"
    assert book.provider == "kubernetes"
    assert book.basis == "list"
    assert isinstance(book.date, date)
    assert "OpenCost" in book.source
    assert book.count() > 0


def test_deleting_an_abandoned_workload_supersedes_rightsizing_it() -> None:
    def finding(module: str, action: str, amount: str) -> Finding:
        from cloudios.domain import Action, Category, Confidence, Money  # noqa: PLC0415

        return Finding(
            id=Finding.make_id(Provider.KUBERNETES, "c", "europe-west1", "shop/Deployment/w", module),
            provider=Provider.KUBERNETES,
            account_id="c",
            region="europe-west1",
            resource_type=k8s.K8S_WORKLOAD,
            resource_id="shop/Deployment/w",
            module=module,
            category=Category.IDLE,
            action=Action(action),
            title="t",
            confidence=Confidence.MEDIUM,
            monthly_savings=Money(amount=Decimal(amount)),
        )

    kept = dedupe(
        [finding("k8s.workload.rightsize", "resize", "30"), finding("k8s.workload.abandoned", "delete", "20")]
    )
    assert [(f.module, f.evidence.get("supersedes")) for f in kept] == [
        ("k8s.workload.abandoned", ["k8s.workload.rightsize"])
    ]

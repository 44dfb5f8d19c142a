"""The agent's cycle with a fake clock, collector and sender: sync first, inventory when due, usage sliced."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudios_agent import wire
from cloudios_agent.health import Telemetry
from cloudios_agent.history import Backfill, BackfillSettings
from cloudios_agent.history_query import Series
from cloudios_agent.loop import USAGE_PER_REPORT, Agent, backfill_history
from cloudios_agent.usage import ContainerSample, PodSample

START = datetime(2026, 3, 1, 9, 58, tzinfo=UTC)


@dataclass
class FakeReflector:
    synced: threading.Event = field(default_factory=threading.Event)


@dataclass
class FakeCollector:
    reflectors: dict[str, FakeReflector] = field(default_factory=lambda: {"pods": FakeReflector()})
    inventories: int = 0

    def pod_workloads(self) -> dict[tuple[str, str], tuple[str, str]]:
        return {}

    def inventory(self, now: datetime) -> wire.Inventory:
        self.inventories += 1
        return wire.Inventory(taken_at=now)


@dataclass
class FakeSender:
    reports: list[tuple[wire.Inventory | None, tuple[wire.ContainerUsage, ...]]] = field(default_factory=list)

    def submit(self, inventory: wire.Inventory | None, usage: tuple[wire.ContainerUsage, ...] = ()) -> int:
        self.reports.append((inventory, usage))
        return len(self.reports)


def test_the_cycle_waits_for_sync_sends_inventory_when_due_and_usage_in_slices() -> None:
    now = [START]
    stamp = [0]
    pods = 1200  # bare pods: each its own workload, so 1,200 summaries per closed hour

    def sampler() -> list[PodSample]:
        stamp[0] += 1
        return [
            PodSample("ns", f"p{i}", str(stamp[0]), (ContainerSample("c", 10.0, 1e6),)) for i in range(pods)
        ]

    collector, sender = FakeCollector(), FakeSender()
    agent = Agent(
        collector,
        sampler,
        sender,
        Telemetry(),
        sample_seconds=30,
        inventory_seconds=60,  # type: ignore[arg-type]
        clock=lambda: now[0],
    )
    assert agent.tick() == 0  # nothing listed yet: no partial inventory, no unattributed samples
    collector.reflectors["pods"].synced.set()
    kinds: list[list[tuple[bool, int]]] = []
    for _ in range(8):  # 09:58:00 .. 10:01:30 every 30 s, the clock drifting a little late
        sender.reports.clear()
        agent.tick()
        kinds.append([(inv is not None, len(usage)) for inv, usage in sender.reports])
        now[0] += timedelta(seconds=30, milliseconds=-3)
    assert kinds[0] == [(True, 0)]
    assert kinds[1] == []  # 30 s later: the inventory is not due yet
    assert kinds[2] == [(True, 0)]  # 60 s minus drift: due (half a cycle of slack)
    # The first tick past 10:00 closes the 09:00 hour: 1,200 summaries in slices of 500.
    assert [n for _, n in kinds[5]] == [USAGE_PER_REPORT, USAGE_PER_REPORT, pods - 2 * USAGE_PER_REPORT]
    assert [len(k) for k in kinds] == [1, 0, 1, 0, 1, 3, 1, 0]  # inventories every other tick, none twice
    assert kinds[6] == [(True, 0)]
    assert agent.telemetry.get("samples_total") == 8 * pods


def test_a_failing_sampler_is_counted_and_the_cycle_goes_on() -> None:
    def sampler() -> Any:
        raise OSError("connection refused")

    collector, sender = FakeCollector(), FakeSender()
    collector.reflectors["pods"].synced.set()
    agent = Agent(collector, sampler, sender, Telemetry(), clock=lambda: START)  # type: ignore[arg-type]
    assert agent.tick() == 1  # the inventory still goes
    assert agent.telemetry.get("sample_errors_total") == 1


class FakePrometheus:
    """Answers every range query with one series per pod: an hourly point over the whole range."""

    def __init__(self, pods: int) -> None:
        self.pods = pods
        self.queries_sent = 0

    def query_range(self, name: str, query: str, start: int, end: int, step: int) -> list[Series]:
        self.queries_sent += 1
        value = 0.25 if name.startswith("cpu") else 64.0 * 2**20
        points = [(t, value) for t in range(start, end + 1, step)]
        return [
            Series({"namespace": "ns", "pod": f"p{i}", "container": "c"}, points) for i in range(self.pods)
        ]


@dataclass
class PacedSender(FakeSender):
    """Ingest takes one batch each time the backfill looks at the queue."""

    unsent: int = 0
    most_queued: int = 0

    def submit(self, inventory: wire.Inventory | None, usage: tuple[wire.ContainerUsage, ...] = ()) -> int:
        self.unsent += 1
        self.most_queued = max(self.most_queued, self.unsent)
        return super().submit(inventory, usage)

    def queued(self) -> int:
        queued, self.unsent = self.unsent, max(0, self.unsent - 1)
        return queued


def test_the_history_backfill_is_queued_as_usage_reports_at_the_pace_ingest_takes_them() -> None:
    owners = {("ns", "p0"): ("Deployment", "web")}
    backfill = Backfill(
        FakePrometheus(pods=300),  # type: ignore[arg-type]
        BackfillSettings(days=3, hourly_days=1),
        owner=lambda ns, pod: owners.get((ns, pod)),
        clock=START.timestamp,
    )
    sender, telemetry = PacedSender(), Telemetry()
    result = backfill_history(
        backfill, sender, telemetry, threading.Event(),  # type: ignore[arg-type]
        namespaces=["ns"], pod_counts={"ns": 300}, pace_batches=4,
    )  # fmt: skip
    assert result.complete
    assert result.queries_sent == 2  # cpu and memory, one namespace batch, one chunk
    assert sender.most_queued <= 4
    assert all(inventory is None for inventory, _ in sender.reports)
    assert all(0 < len(usage) <= USAGE_PER_REPORT for _, usage in sender.reports)
    rows = [row for _, usage in sender.reports for row in usage]
    assert len(rows) == result.rows > USAGE_PER_REPORT * 4
    assert {row.source for row in rows} == {"prometheus"}
    assert ("Deployment", "web") in {(row.workload_kind, row.workload_name) for row in rows}
    assert telemetry.get("history_rows_total") == len(rows)
    assert telemetry.get("history_queries_total") == 2

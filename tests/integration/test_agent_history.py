"""The agent's history backfill against a real Prometheus holding promtool-backfilled cAdvisor series."""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from cloudios_agent.history import Backfill, BackfillResult, BackfillSettings
from cloudios_agent.history_query import PrometheusClient, PrometheusError, PrometheusSource, Series
from cloudios_agent.history_rows import NetworkDay
from cloudios_agent.sketch import RELATIVE_ACCURACY
from cloudios_agent.wire import ContainerUsage
from tests.support.controlplane import free_port
from tests.support.prometheus import DAY, HOUR, History, RunningPrometheus

pytestmark = pytest.mark.prometheus

Served = tuple[RunningPrometheus, History]
Key = tuple[str, str, str, str]


def client_for(served: Served) -> PrometheusClient:
    running, _ = served
    return PrometheusClient(PrometheusSource(running.url, ca_file=running.ca_file))


def backfill(
    served: Served, settings: BackfillSettings, *, client: PrometheusClient | None = None,
    spool: Path | None = None, namespaces: list[str] | None = None,
) -> tuple[BackfillResult, list[ContainerUsage], list[NetworkDay]]:  # fmt: skip
    _, history = served
    rows: list[ContainerUsage] = []
    network: list[NetworkDay] = []
    runner = Backfill(
        client or client_for(served), settings,
        owner=lambda ns, pod: history.owners.get((ns, pod)),
        known=lambda ns: history.known.get(ns, {}),
        spool_dir=spool,
        # The data ends an hour before "now": the backfill sees the same window in every test.
        clock=lambda: history.end + HOUR,
    )  # fmt: skip
    result = runner.run(rows.extend, network.extend, namespaces=namespaces)
    return result, rows, network


def expected_hours(history: History) -> dict[tuple[Key, int], tuple[list[float], list[float]]]:
    """(workload container, hour) -> (per-pod CPU averages, per-pod memory peaks) from the generator."""
    out: dict[tuple[Key, int], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    workload = {("tools", "old-report-6f7c9d8b5b-w2kxp"): ("Deployment", "old-report"),
                ("tools", "cleanup-28912345-x7k2p"): ("CronJob", "cleanup"),
                ("tools", "agent-b7k2p"): ("DaemonSet", "agent"), **history.owners}  # fmt: skip
    for c in history.containers:
        kind, name = workload[c.namespace, c.pod]
        for hour in range(history.start, history.end, HOUR):
            if c.alive(hour, history.start, history.end):
                cpu, mem = out[(c.namespace, kind, name, c.container), hour]
                cpu.append(c.cpu_m(hour))
                mem.append(c.memory_spikes.get(hour, c.memory(hour)))
    return out


def exact_quantile(values: list[float], q: float) -> float:
    return sorted(values)[math.floor(q * (len(values) - 1))]


def key_of(row: ContainerUsage) -> Key:
    return (row.namespace, row.workload_kind, row.workload_name, row.container)


WHOLE = BackfillSettings(days=7, hourly_days=7, namespaces_per_batch=2, chunk_days=3)


def test_backfill_reproduces_hourly_averages_and_peaks(history_prometheus: Served) -> None:
    _, history = history_prometheus
    result, rows, _ = backfill(history_prometheus, WHOLE)
    assert result.complete
    assert not result.failures
    assert all(r.source == "prometheus" for r in rows)
    expected = expected_hours(history)
    hours = {(key_of(r), int(r.start.timestamp())): r for r in rows if r.period == "hour"}
    assert hours.keys() == expected.keys()
    for (key, hour), (cpu, mem) in expected.items():
        row = hours[key, hour]
        assert row.cpu.samples == row.memory.samples == len(cpu), (key, hour)
        assert row.cpu.avg == pytest.approx(sum(cpu) / len(cpu), rel=1e-6), (key, hour)
        assert row.cpu.max == pytest.approx(max(cpu), rel=1e-6)
        assert row.memory.max == pytest.approx(max(mem), abs=1), (key, hour)


def test_daily_rows_are_sketches_of_the_hourly_values(history_prometheus: Served) -> None:
    _, history = history_prometheus
    _, rows, _ = backfill(history_prometheus, WHOLE)
    by_day: dict[tuple[Key, int], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for (key, hour), (cpu, mem) in expected_hours(history).items():
        by_day[key, hour // DAY * DAY][0].extend(cpu)
        by_day[key, hour // DAY * DAY][1].extend(mem)
    days = {(key_of(r), int(r.start.timestamp())): r for r in rows if r.period == "day"}
    assert days.keys() == by_day.keys()
    for k, (cpu, mem) in by_day.items():
        row = days[k]
        assert row.cpu.samples == len(cpu)
        assert row.cpu.avg == pytest.approx(sum(cpu) / len(cpu), rel=1e-6)
        assert row.memory.max == pytest.approx(max(mem), abs=1)
        for q, got in ((0.95, row.cpu.p95), (0.99, row.cpu.p99)):
            assert got == pytest.approx(exact_quantile(cpu, q), rel=RELATIVE_ACCURACY), (k, q)
        assert row.memory.p95 == pytest.approx(exact_quantile(mem, 0.95), rel=RELATIVE_ACCURACY)
    # The OOM-like spike is one sample in one hour; the day's peak keeps it, the p95 does not.
    spike_day = days[("data", "StatefulSet", "db", "postgres"), history.oom_hour // DAY * DAY]
    assert spike_day.memory.max == pytest.approx(7.5 * 1024**3, abs=1)
    assert spike_day.memory.p95 < 2.1 * 1024**3


def test_queries_sent_is_metrics_times_batches_times_chunks(history_prometheus: Served) -> None:
    _, history = history_prometheus
    namespaces = ["shop", "batch", "data", "tools"]
    result, _, _ = backfill(history_prometheus, WHOLE, namespaces=namespaces)
    window = (history.end + HOUR) - ((history.end + HOUR) // DAY * DAY - 6 * DAY)
    chunks = math.ceil(window / (3 * DAY))
    assert result.queries_sent == 2 * 2 * chunks  # metrics x ceil(4 namespaces / 2) x chunks
    assert result.chunks_total == result.chunks_done == 2 * chunks
    # Without a namespace list, one label-values query finds them (the vanished pods' too).
    discovered, _, _ = backfill(history_prometheus, WHOLE)
    assert discovered.queries_sent == 1 + 2 * 2 * chunks
    # With network, a third query per batch and chunk.
    with_network, _, network = backfill(
        history_prometheus, BackfillSettings(days=7, namespaces_per_batch=2, chunk_days=3, network=True),
        namespaces=namespaces,
    )  # fmt: skip
    assert with_network.queries_sent == 3 * 2 * chunks
    web = [d for d in network if d.workload_name == "web"]
    assert web
    assert all(d.avg_bytes_per_second == pytest.approx(2 * (2000 + 3000)) for d in web)
    assert {d.workload_name for d in network} == {"web"}


class Recording(PrometheusClient):
    """Records every range query's (start, end, step) and can fail the n-th one."""

    def __init__(self, source: PrometheusSource, fail_at: int | None = None) -> None:
        super().__init__(source)
        self.calls: list[tuple[str, int, int, int]] = []
        self.fail_at = fail_at

    def query_range(self, name: str, query: str, start: int, end: int, step: int) -> list[Series]:
        self.calls.append((name, start, end, step))
        if self.fail_at is not None and len(self.calls) == self.fail_at:
            with self._lock:
                self.queries_sent += 1
            raise PrometheusError(name, "HTTP 503: unavailable: injected")
        return super().query_range(name, query, start, end, step)


def test_chunks_respect_the_points_per_series_limit(history_prometheus: Served) -> None:
    running, history = history_prometheus
    settings = BackfillSettings(days=7, step_seconds=600, hourly_days=7, max_points_per_series=200)
    client = Recording(PrometheusSource(running.url, ca_file=running.ca_file))
    result, rows, _ = backfill(history_prometheus, settings, client=client)
    assert result.complete
    assert len({(s, e) for _, s, e, _ in client.calls}) == 7  # one-day chunks: 144 points each
    for _, start, end, step in client.calls:
        assert (end - start) // step + 1 <= 200
    # Six 10-minute points per pod-hour: the hour's average and peak are unchanged.
    hours = {(key_of(r), int(r.start.timestamp())): r for r in rows if r.period == "hour"}
    for (key, hour), (cpu, mem) in expected_hours(history).items():
        assert hours[key, hour].cpu.samples == 6 * len(cpu)
        assert hours[key, hour].cpu.avg == pytest.approx(sum(cpu) / len(cpu), rel=1e-6)
        assert hours[key, hour].memory.max == pytest.approx(max(mem), abs=1)


def test_prometheus_refusing_a_query_is_reported_with_its_name(history_prometheus: Served) -> None:
    # 60-second points over 8 days are 11,520 per series: Prometheus answers 400 (limit 11,000).
    settings = BackfillSettings(days=9, step_seconds=60, max_points_per_series=20_000)
    result, rows, _ = backfill(history_prometheus, settings)
    assert not result.complete
    assert rows == []
    failure = result.failures[0]
    assert failure.query.startswith(("cpu[namespace batch 1/1", "memory[namespace batch 1/1"))
    assert "HTTP 400" in failure.message
    assert "11,000 points" in failure.message


@pytest.mark.parametrize("how", ["unreachable", "wrong-ca"])
def test_an_unusable_prometheus_is_reported_not_raised(
    history_prometheus: Served, how: str, tmp_path: Path
) -> None:
    running, _ = history_prometheus
    if how == "unreachable":
        source = PrometheusSource(f"https://127.0.0.1:{free_port()}", ca_file=running.ca_file)
        expected = "cannot reach Prometheus"
    else:
        other = tmp_path / "other-ca.crt"
        other.write_bytes(Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())
        source = PrometheusSource(running.url, ca_file=other)
        expected = "CERTIFICATE_VERIFY_FAILED"
    result, _, _ = backfill(history_prometheus, WHOLE, client=PrometheusClient(source), namespaces=["shop"])
    assert not result.complete
    assert result.queries_sent == 2  # both queries of the first chunk were sent; nothing after them
    assert all(expected in f.message for f in result.failures), result.failures


def test_backfill_resumes_after_the_last_completed_chunk(history_prometheus: Served, tmp_path: Path) -> None:
    running, _ = history_prometheus
    source = PrometheusSource(running.url, ca_file=running.ca_file)
    _, reference, _ = backfill(history_prometheus, WHOLE)

    failing = Recording(source, fail_at=3)  # the first query of the second chunk
    first, rows_before, _ = backfill(history_prometheus, WHOLE, client=failing, spool=tmp_path)
    assert not first.complete
    assert first.chunks_done == 1
    assert first.failures[0].query == failing.calls[2][0]
    assert (tmp_path / "history-backfill.json").is_file()

    second, rows_after, _ = backfill(history_prometheus, WHOLE, spool=tmp_path)
    assert second.complete
    assert second.queries_sent == 2 * (second.chunks_total - 1)  # no discovery, no repeated chunk
    assert sorted(map(identity, rows_before + rows_after)) == sorted(map(identity, reference))

    third, rows_again, _ = backfill(history_prometheus, WHOLE, spool=tmp_path)
    assert third.already_done
    assert third.complete
    assert (third.queries_sent, rows_again) == (0, [])


def identity(row: ContainerUsage) -> tuple[Any, ...]:
    return (*key_of(row), row.period, row.start, row.cpu.samples, round(row.cpu.avg, 6), row.memory.max)


def test_vanished_pods_are_mapped_by_name_and_reported(history_prometheus: Served) -> None:
    result, rows, _ = backfill(history_prometheus, WHOLE)
    assert result.guessed == {
        ("tools", "Deployment", "old-report"): {"old-report-6f7c9d8b5b-w2kxp"},
        ("tools", "CronJob", "cleanup"): {"cleanup-28912345-x7k2p"},
        ("tools", "DaemonSet", "agent"): {"agent-b7k2p"},  # confirmed by a DaemonSet that exists now
    }
    assert {(r.workload_kind, r.workload_name) for r in rows if r.namespace == "tools"} == {
        ("Deployment", "old-report"), ("CronJob", "cleanup"), ("DaemonSet", "agent"),
    }  # fmt: skip

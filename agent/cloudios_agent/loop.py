"""The agent's cycle: sample usage, close finished periods, and queue reports (inventory when due);
and the one-off history backfill, queued through the same sender."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import httpx

from cloudios_agent import wire
from cloudios_agent.collect import Collector
from cloudios_agent.health import Telemetry
from cloudios_agent.history import Backfill, BackfillResult
from cloudios_agent.kube import ApiError
from cloudios_agent.send import Sender
from cloudios_agent.usage import PodSample, UsageAggregator

log = logging.getLogger(__name__)

USAGE_PER_REPORT = 500
"""Usage summaries per report: each report is encoded on its own, so a small slice keeps the hourly
flush of thousands of containers from holding megabytes of JSON at once (the wire allows 50,000)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class Agent:
    """Runs one cycle every ``sample_seconds``; collection never waits for ingest."""

    def __init__(
        self,
        collector: Collector,
        sampler: Callable[[], Iterable[PodSample]],
        sender: Sender,
        telemetry: Telemetry,
        *,
        sample_seconds: float = 30.0,
        inventory_seconds: float = 300.0,
        clock: Callable[[], datetime] = utc_now,
        aggregator: UsageAggregator | None = None,
    ) -> None:
        self.collector = collector
        self.sampler = sampler
        self.sender = sender
        self.telemetry = telemetry
        self.sample_seconds = sample_seconds
        self.inventory_seconds = inventory_seconds
        self.clock = clock
        self.usage = aggregator or UsageAggregator()
        self._last_inventory: datetime | None = None

    def tick(self) -> int:
        """One cycle; returns the number of reports queued. Skipped until every kind has been listed."""
        self.telemetry.heartbeat()
        if not all(r.synced.is_set() for r in self.collector.reflectors.values()):
            return 0
        now = self.clock()
        self.telemetry.inc("cycles_total")
        self._sample(now)
        self.usage.close(now)
        closed = tuple(self.usage.take_closed())
        inventory = None
        # Half a cycle of slack: ticks drift by milliseconds, and "every 30 s" must not become "every 60 s".
        slack = self.sample_seconds / 2
        due = self._last_inventory is None or (
            (now - self._last_inventory).total_seconds() >= self.inventory_seconds - slack
        )
        if due:
            inventory = self.collector.inventory(now.replace(microsecond=0))
            self._last_inventory = now
            self.telemetry.inc("inventories_total")
        return self._queue(inventory, closed)

    def _sample(self, now: datetime) -> None:
        try:
            samples = self.sampler()
        except (httpx.HTTPError, ApiError, ValueError, OSError) as exc:
            self.telemetry.inc("sample_errors_total")
            log.warning(
                "metrics.k8s.io unavailable (%s: %s); usage not sampled this cycle",
                type(exc).__name__,
                str(exc)[:200],
            )
            return
        workloads = self.collector.pod_workloads()

        def resolve(namespace: str, pod: str) -> tuple[str, str]:
            return workloads.get((namespace, pod)) or ("Pod", pod)

        try:
            self.telemetry.inc("samples_total", self.usage.add(samples, now, resolve))
        except ValueError as exc:  # a malformed answer, found while decoding it pod by pod
            self.telemetry.inc("sample_errors_total")
            log.warning("metrics.k8s.io answer unreadable (%s)", str(exc)[:200])

    def _queue(self, inventory: wire.Inventory | None, usage: tuple[wire.ContainerUsage, ...]) -> int:
        if inventory is None and not usage:
            return 0
        chunks = [usage[i : i + USAGE_PER_REPORT] for i in range(0, len(usage), USAGE_PER_REPORT)] or [()]
        for i, chunk in enumerate(chunks):
            self.sender.submit(inventory if i == 0 else None, chunk)
        return len(chunks)

    def run(self, stop: threading.Event) -> None:
        """Tick every ``sample_seconds`` (on a fixed schedule) until ``stop`` is set."""
        deadline = time.monotonic()
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                # The loop must survive anything one cycle meets; the error type is enough to act on.
                log.exception("cycle failed")
            deadline += self.sample_seconds
            delay = deadline - time.monotonic()
            if delay < 0:  # a cycle overran: skip the missed slots instead of bunching them up
                deadline = time.monotonic()
                delay = 0.0
            stop.wait(delay)


def backfill_history(
    backfill: Backfill,
    sender: Sender,
    telemetry: Telemetry,
    stop: threading.Event,
    *,
    namespaces: list[str],
    pod_counts: dict[str, int],
    pace_batches: int,
) -> BackfillResult:
    """Run the history backfill once and queue its rows as usage-only reports.

    The sender drops its oldest batch when the queue is full, so each chunk waits until fewer than
    ``pace_batches`` are queued: the backfill goes as fast as ingest accepts it, never faster, and
    leaves room for the live cycle's reports. ``namespaces`` (those that exist now, from the watch
    cache: no label-values query) and their pod counts decide the query batches.
    """

    def emit(rows: list[wire.ContainerUsage]) -> None:
        for i in range(0, len(rows), USAGE_PER_REPORT):
            while sender.queued() >= pace_batches and not stop.is_set():
                stop.wait(0.2)
            sender.submit(None, tuple(rows[i : i + USAGE_PER_REPORT]))
        telemetry.inc("history_rows_total", len(rows))

    result = backfill.run(emit, namespaces=namespaces, pod_counts=pod_counts)
    telemetry.inc("history_queries_total", result.queries_sent)
    if result.already_done:
        log.info("history: the backfill finished on an earlier start; nothing to do")
    elif result.complete:
        log.info("history: backfill complete, %d usage rows in %d queries", result.rows, result.queries_sent)
    else:
        telemetry.inc("history_failures_total", len(result.failures))
        log.warning("history: backfill stopped after chunk %d of %d; it resumes on the next start",
                    result.chunks_done, result.chunks_total)  # fmt: skip
    return result

"""Optional history source: on first start, backfill up to 90 days of cAdvisor usage from Prometheus.

So that recommendations exist on day one without loading Prometheus the way per-workload tools do,
the backfill sends few, large, server-aggregated range queries instead of one per container:

- one query per metric (CPU, working-set memory, optionally network), per namespace batch (a regex
  of up to ``namespaces_per_batch`` namespaces holding about ``pods_per_batch`` pods), per time
  chunk (whole UTC days, at most ``chunk_days`` and at most ``max_points_per_series`` points, the
  11,000 points per series Prometheus allows in one range query);
- aggregated on the server, ``sum by (namespace, pod, container)`` of ``rate(...[1h])`` for CPU and
  ``max by (...)`` of ``max_over_time(...[1h])`` for memory: a restarted container's old and new
  series overlap for a few minutes, and adding their peaks would double the peak;
- at most ``concurrency`` (default 2) queries in flight.

Queries sent = metrics x namespace batches x chunks, plus one label-values query when the namespaces
are not given. With the defaults, 90 days of a 100-namespace, 1,000-pod cluster take
2 x 10 x 6 = 120 queries. Series are mapped to workloads by the collector's pod owner function;
pods that no longer exist are mapped from their generated names (``history_rows``) and counted in
the result. How points become hour and day rows is written in ``history_rows``.

A failed query (HTTP error, timeout, unreachable) ends the run with its name in ``failures``; it
never raises. The run is resumable: after each chunk's rows are handed to ``emit`` the plan and the
number of finished chunks are written to ``history-backfill.json`` in the spool directory, and the
next start continues from there; a finished backfill is not repeated.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudios_agent.history_query import PrometheusClient, PrometheusError, Series
from cloudios_agent.history_rows import (
    DAY,
    KnownWorkloads,
    NetworkDay,
    PodOwner,
    WorkloadMapper,
    network_days,
    usage_rows,
)
from cloudios_agent.wire_models import ContainerUsage

log = logging.getLogger("cloudios_agent.history")

CHECKPOINT = "history-backfill.json"
MAX_DAYS = 90
PROMETHEUS_MAX_POINTS = 11_000
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CONTAINERS = 'container!="",container!="POD"'


@dataclass(frozen=True)
class BackfillSettings:
    days: int = MAX_DAYS
    step_seconds: int = 3600
    """Resolution; each point is one sample. Must divide an hour."""
    concurrency: int = 2
    namespaces_per_batch: int = 10
    pods_per_batch: int = 100
    """Namespaces are packed into one query until their known pods reach this (bounds answer size)."""
    chunk_days: int = 15
    hourly_days: int = 2
    """Hour rows are sent for the most recent days only; older days are sent as day rows."""
    network: bool = False
    """Also read container_network_{receive,transmit}_bytes_total (handed to ``emit_network``)."""
    selector: str = ""
    """Extra label matchers for every series, e.g. ``job="kubelet"`` when cAdvisor is scraped twice."""
    max_points_per_series: int = PROMETHEUS_MAX_POINTS

    def __post_init__(self) -> None:
        if not 1 <= self.days <= MAX_DAYS:
            raise ValueError(f"history days must be 1..{MAX_DAYS}")
        if self.step_seconds < 10 or 3600 % self.step_seconds:  # noqa: PLR2004 - Prometheus' finest useful step
            raise ValueError("history step must be at least 10 s and divide an hour")
        if not 1 <= self.concurrency <= 8:  # noqa: PLR2004
            raise ValueError("history concurrency must be 1..8")
        if min(self.namespaces_per_batch, self.pods_per_batch, self.chunk_days) < 1 or self.hourly_days < 0:
            raise ValueError("history batch sizes and chunk days must be positive")
        if self.max_points_per_series * self.step_seconds < DAY:
            raise ValueError("max_points_per_series x step must cover at least one day")
        if any(c in self.selector for c in "{}\n"):
            raise ValueError("history selector is label matchers only, without braces")


@dataclass(frozen=True)
class Plan:
    """What one backfill reads: fixed at the first start, kept in the checkpoint for resumption."""

    start: int
    end: int
    step: int
    chunk: int
    batches: tuple[tuple[str, ...], ...]
    metrics: tuple[str, ...]
    selector: str

    @property
    def chunks(self) -> list[tuple[int, int]]:
        return [(t, min(t + self.chunk, self.end)) for t in range(self.start, self.end, self.chunk)]

    @property
    def units(self) -> int:
        return len(self.batches) * len(self.chunks)

    @property
    def queries(self) -> int:
        return len(self.metrics) * self.units

    def query(self, metric: str, batch: Sequence[str]) -> str:
        extra = f",{self.selector}" if self.selector else ""
        namespaces = f'namespace=~"{"|".join(batch)}"'
        window = f"[{self.step}s]"
        if metric == "cpu":
            inner = f"container_cpu_usage_seconds_total{{{namespaces},{_CONTAINERS}{extra}}}"
            return f"sum by (namespace, pod, container) (rate({inner}{window}))"
        if metric == "memory":
            inner = f"container_memory_working_set_bytes{{{namespaces},{_CONTAINERS}{extra}}}"
            return f"max by (namespace, pod, container) (max_over_time({inner}{window}))"
        # Received plus sent; ``or`` keeps pods that report only one direction.
        rx, tx = (
            f"sum by (namespace, pod) (rate({name}{{{namespaces}{extra}}}{window}))"
            for name in ("container_network_receive_bytes_total", "container_network_transmit_bytes_total")
        )
        return f"{rx} + {tx} or {rx} or {tx}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Plan:
        return Plan(
            start=int(data["start"]),
            end=int(data["end"]),
            step=int(data["step"]),
            chunk=int(data["chunk"]),
            batches=tuple(tuple(str(ns) for ns in batch) for batch in data["batches"]),
            metrics=tuple(str(m) for m in data["metrics"]),
            selector=str(data["selector"]),
        )


def batch_namespaces(
    namespaces: Iterable[str], pod_counts: Mapping[str, int], settings: BackfillSettings
) -> tuple[tuple[str, ...], ...]:
    """Sorted namespaces packed greedily: a batch closes at the namespace or the pod limit."""
    batches: list[tuple[str, ...]] = []
    current: list[str] = []
    pods = 0
    for ns in sorted({n for n in namespaces if _NAMESPACE.match(n)}):
        weight = max(1, pod_counts.get(ns, 1))
        if current and (
            len(current) >= settings.namespaces_per_batch or pods + weight > settings.pods_per_batch
        ):
            batches.append(tuple(current))
            current, pods = [], 0
        current.append(ns)
        pods += weight
    if current:
        batches.append(tuple(current))
    return tuple(batches)


def make_plan(settings: BackfillSettings, now: float, batches: tuple[tuple[str, ...], ...]) -> Plan:
    """The window ends at the last whole hour and starts at midnight ``days - 1`` days before it."""
    end = int(now) // 3600 * 3600
    start = end // DAY * DAY - (settings.days - 1) * DAY
    chunk_days = min(settings.chunk_days, settings.max_points_per_series * settings.step_seconds // DAY)
    metrics = ("cpu", "memory", "network") if settings.network else ("cpu", "memory")
    return Plan(start, end, settings.step_seconds, chunk_days * DAY, batches, metrics, settings.selector)


@dataclass(frozen=True)
class Failure:
    query: str
    message: str


@dataclass
class BackfillResult:
    complete: bool = False
    already_done: bool = False
    """The checkpoint says an earlier start finished the backfill; nothing was queried."""
    queries_sent: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    rows: int = 0
    network_days: int = 0
    failures: list[Failure] = field(default_factory=list)
    guessed: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    """(namespace, kind, name) -> pods no longer present whose workload was derived from their name."""


Emit = Callable[[list[ContainerUsage]], None]
EmitNetwork = Callable[[list[NetworkDay]], None]


class Backfill:
    """One history backfill against one Prometheus; ``run`` is safe to call on every start."""

    def __init__(
        self,
        client: PrometheusClient,
        settings: BackfillSettings,
        *,
        owner: PodOwner,
        known: KnownWorkloads | None = None,
        spool_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.settings = settings
        self.mapper = WorkloadMapper(owner, known)
        self.checkpoint = spool_dir / CHECKPOINT if spool_dir else None
        self.clock = clock

    def run(
        self,
        emit: Emit,
        emit_network: EmitNetwork | None = None,
        *,
        namespaces: Iterable[str] | None = None,
        pod_counts: Mapping[str, int] | None = None,
    ) -> BackfillResult:
        """Backfill what is left; ``emit`` gets each chunk's rows (it may block to pace the backfill)."""
        result = BackfillResult()
        sent_before = self.client.queries_sent
        try:
            plan, done = self._resume() or (self._plan(namespaces, pod_counts or {}), 0)
        except PrometheusError as exc:
            result.failures.append(Failure(exc.name, exc.message))
            log.warning("history: %s; no backfill this start", exc)
            result.queries_sent = self.client.queries_sent - sent_before
            return result
        result.chunks_total, result.chunks_done = plan.units, done
        result.already_done = done >= plan.units
        if 0 < done < plan.units:
            log.info("history: resuming the backfill after chunk %d of %d", done, plan.units)
        if done == 0:
            log.info(
                "history: backfilling %s days in %d queries (%d metrics x %d namespace batches x %d chunks)",
                self.settings.days, plan.queries, len(plan.metrics), len(plan.batches), len(plan.chunks),
            )  # fmt: skip
        chunks = plan.chunks
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="history") as pool:
            for unit in range(done, plan.units):
                b, c = divmod(unit, len(chunks))
                answers = self._query_unit(pool, plan, b, chunks[c], result)
                if answers is None:
                    break
                hourly_from = plan.end - self.settings.hourly_days * DAY
                rows = usage_rows(
                    answers["cpu"], answers["memory"], self.mapper, step=plan.step, hourly_from=hourly_from
                )
                emit(rows)
                result.rows += len(rows)
                if "network" in answers and emit_network is not None:
                    days = network_days(answers["network"], self.mapper, step=plan.step)
                    emit_network(days)
                    result.network_days += len(days)
                result.chunks_done = unit + 1
                self._save(plan, unit + 1)
        result.complete = result.chunks_done >= plan.units
        result.queries_sent = self.client.queries_sent - sent_before
        result.guessed = {k: set(v) for k, v in self.mapper.guessed.items()}
        if result.guessed:
            log.info(
                "history: %d pods no longer present were mapped to %d workloads by their names",
                sum(len(p) for p in result.guessed.values()), len(result.guessed),
            )  # fmt: skip
        return result

    def _query_unit(
        self, pool: ThreadPoolExecutor, plan: Plan, batch: int, chunk: tuple[int, int], result: BackfillResult
    ) -> dict[str, list[Series]] | None:
        first, last = (datetime.fromtimestamp(t, UTC).date() for t in (chunk[0], chunk[1] - 1))
        futures = {
            metric: pool.submit(
                self.client.query_range,
                f"{metric}[namespace batch {batch + 1}/{len(plan.batches)}, {first}..{last}]",
                plan.query(metric, plan.batches[batch]),
                chunk[0] + plan.step,  # a point at t covers (t - step, t]
                chunk[1],
                plan.step,
            )
            for metric in plan.metrics
        }
        answers: dict[str, list[Series]] = {}
        failed = False
        for metric, future in futures.items():
            try:
                answers[metric] = future.result()
            except PrometheusError as exc:
                failed = True
                result.failures.append(Failure(exc.name, exc.message))
                log.warning("history: query %s failed: %s; the backfill resumes on the next start",
                            exc.name, exc.message)  # fmt: skip
        return None if failed else answers

    def _plan(self, namespaces: Iterable[str] | None, pod_counts: Mapping[str, int]) -> Plan:
        draft = make_plan(self.settings, self.clock(), ())
        if namespaces is None:
            namespaces = self.client.label_values(
                "namespaces", "namespace", f"container_cpu_usage_seconds_total{{{_CONTAINERS}}}",
                draft.start, draft.end,
            )  # fmt: skip
        batches = batch_namespaces(namespaces, pod_counts, self.settings)
        return make_plan(self.settings, self.clock(), batches)

    def _resume(self) -> tuple[Plan, int] | None:
        if self.checkpoint is None or not self.checkpoint.is_file():
            return None
        try:
            saved = json.loads(self.checkpoint.read_text())
            plan, done = Plan.from_json(saved["plan"]), int(saved["done"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("history: ignoring unreadable checkpoint %s: %s", self.checkpoint, exc)
            return None
        wanted = make_plan(self.settings, plan.end, plan.batches)
        if (plan.step, plan.metrics, plan.selector, plan.start) != (
            wanted.step, wanted.metrics, wanted.selector, wanted.start
        ):  # fmt: skip
            log.info("history: settings changed since the checkpoint; starting the backfill again")
            return None
        return plan, done

    def _save(self, plan: Plan, done: int) -> None:
        if self.checkpoint is None:
            return
        tmp = self.checkpoint.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps({"version": 1, "plan": plan.to_json(), "done": done}))
            tmp.replace(self.checkpoint)
        except OSError as exc:
            log.warning("history: cannot write the checkpoint %s: %s", self.checkpoint, exc)

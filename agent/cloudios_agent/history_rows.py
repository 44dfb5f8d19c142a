"""Turns Prometheus series of one backfill chunk into wire usage rows per workload container.

Sampling, stated once: every point of a query is one sample of one pod. With the default 1-hour
step a CPU point is that pod's average over the hour (``rate(...[1h])``) and a memory point is its
peak working set in the hour (``max_over_time(...[1h])``). An ``hour`` row summarises the samples
of all the workload's pods in that hour (so ``samples`` is the number of pods seen); a ``day`` row
is the sketch of the day's hourly samples, so its p95 is the 95th percentile of pod-hours and its
``max`` the highest hourly peak. CPU is in millicores, memory in bytes, as on the rest of the wire.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cloudios_agent.history_query import Series
from cloudios_agent.sketch import Sketch
from cloudios_agent.wire_models import ContainerUsage, Summary

SOURCE = "prometheus"
HOUR, DAY = 3600, 86400

PodOwner = Callable[[str, str], "tuple[str, str] | None"]
"""(namespace, pod) -> (workload kind, workload name) for pods the collector knows, else None."""
KnownWorkloads = Callable[[str], Mapping[str, str]]
"""namespace -> {workload name: kind} of the workloads that exist now (to confirm name guesses)."""

# Kubernetes generates pod and ReplicaSet suffixes from this alphabet (no vowels, no 0/1/3).
_SAFE = "[bcdfghjklmnpqrstvwxz2456789]"
_CRONJOB = re.compile(rf"^(.+)-\d{{8,}}-{_SAFE}{{5}}$")
_DEPLOYMENT = re.compile(rf"^(.+)-{_SAFE}{{6,10}}-{_SAFE}{{5}}$")
_STATEFULSET = re.compile(r"^(.+)-(\d+)$")
_GENERATED = re.compile(rf"^(.+)-{_SAFE}{{5}}$")


def workload_from_pod_name(pod: str, known: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Best guess of a vanished pod's workload from its generated name.

    ``web-7d9f8b6c5d-xk2lp`` (ReplicaSet hash + suffix) -> Deployment ``web``; ``db-0`` (ordinal)
    -> StatefulSet ``db``; ``report-28912345-x7k2p`` (schedule minute) -> CronJob ``report``;
    ``agent-x7k2p`` -> the DaemonSet or Job ``agent`` only if one exists now. A guess that names a
    workload that exists now takes that workload's kind; anything else stays a bare ``Pod``.
    """
    known = known or {}
    guesses = []
    for pattern, kind in ((_CRONJOB, "CronJob"), (_DEPLOYMENT, "Deployment"), (_STATEFULSET, "StatefulSet")):
        if match := pattern.match(pod):
            guesses.append((kind, match.group(1)))
    if match := _GENERATED.match(pod):
        guesses.append(("", match.group(1)))
    for _, name in guesses:
        if name in known:
            return known[name], name
    for kind, name in guesses:
        if kind:
            return kind, name
    return "Pod", pod


@dataclass
class WorkloadMapper:
    """Maps (namespace, pod) to its workload: the collector's answer, else a name-based guess."""

    owner: PodOwner
    known: KnownWorkloads | None = None
    guessed: dict[tuple[str, str, str], set[str]] = field(default_factory=dict)
    """(namespace, kind, name) -> the vanished pods whose workload was derived from their name."""
    _cache: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)

    def __call__(self, namespace: str, pod: str) -> tuple[str, str]:
        key = (namespace, pod)
        if (hit := self._cache.get(key)) is not None:
            return hit
        found = self.owner(namespace, pod)
        if found is None:
            found = workload_from_pod_name(pod, self.known(namespace) if self.known else None)
            self.guessed.setdefault((namespace, *found), set()).add(pod)
        self._cache[key] = found
        return found


@dataclass(frozen=True)
class NetworkDay:
    """A workload's network traffic (received + sent, all pods) on one UTC day, in bytes per second."""

    namespace: str
    workload_kind: str
    workload_name: str
    day: datetime
    avg_bytes_per_second: float
    max_bytes_per_second: float
    points: int


Key = tuple[str, str, str, str]
"""(namespace, workload kind, workload name, container)"""


def _hour_of(ts: int, step: int) -> int:
    """The hour a point belongs to: a point at ``ts`` covers (ts - step, ts]."""
    return (ts - step) // HOUR * HOUR


def _collect(
    series: Iterable[Series], mapper: WorkloadMapper, step: int, scale: float
) -> dict[Key, dict[int, list[float]]]:
    out: dict[Key, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for s in series:
        namespace, pod, container = (s.labels.get(k, "") for k in ("namespace", "pod", "container"))
        if not (namespace and pod and container):
            continue
        kind, name = mapper(namespace, pod)
        hours = out[namespace, kind, name, container]
        for ts, value in s.points:
            hours[_hour_of(ts, step)].append(value * scale)
    return out


def _usage(key: Key, period: str, start: int, cpu: Sketch, memory: Sketch) -> ContainerUsage:
    namespace, kind, name, container = key
    return ContainerUsage(
        namespace=namespace,
        workload_kind=kind,
        workload_name=name,
        container=container,
        period=period,
        start=datetime.fromtimestamp(start, UTC),
        source=SOURCE,
        cpu=Summary.of(cpu),
        memory=Summary.of(memory),
    )


def usage_rows(
    cpu: Iterable[Series],
    memory: Iterable[Series],
    mapper: WorkloadMapper,
    *,
    step: int,
    hourly_from: int,
) -> list[ContainerUsage]:
    """Day rows for every workload container of the chunk, hour rows for hours >= ``hourly_from``.

    A row needs at least one CPU and one memory sample (the wire has no empty summaries); a pod-hour
    with only one of them still counts on that side. Chunks start at UTC midnight, so no day is
    split between two chunks.
    """
    cpu_by_key = _collect(cpu, mapper, step, 1000.0)  # cores -> millicores
    mem_by_key = _collect(memory, mapper, step, 1.0)
    rows: list[ContainerUsage] = []
    for key in sorted(cpu_by_key.keys() & mem_by_key.keys()):
        cpu_hours, mem_hours = cpu_by_key[key], mem_by_key[key]
        days: dict[int, tuple[Sketch, Sketch]] = {}
        for hour in sorted(cpu_hours.keys() | mem_hours.keys()):
            hour_cpu, hour_mem = Sketch.of(cpu_hours.get(hour, ())), Sketch.of(mem_hours.get(hour, ()))
            day_cpu, day_mem = days.setdefault(hour // DAY * DAY, (Sketch(), Sketch()))
            day_cpu.merge(hour_cpu)
            day_mem.merge(hour_mem)
            if hour >= hourly_from and hour_cpu.count and hour_mem.count:
                rows.append(_usage(key, "hour", hour, hour_cpu, hour_mem))
        rows.extend(
            _usage(key, "day", day, day_cpu, day_mem)
            for day, (day_cpu, day_mem) in sorted(days.items())
            if day_cpu.count and day_mem.count
        )
    return rows


def network_days(series: Iterable[Series], mapper: WorkloadMapper, *, step: int) -> list[NetworkDay]:
    """Per workload and UTC day: average and peak of its pods' summed traffic at each point."""
    totals: dict[tuple[str, str, str], dict[int, float]] = defaultdict(lambda: defaultdict(float))
    for s in series:
        namespace, pod = s.labels.get("namespace", ""), s.labels.get("pod", "")
        if not (namespace and pod):
            continue
        at = totals[(namespace, *mapper(namespace, pod))]
        for ts, value in s.points:
            at[ts] += value
    out: list[NetworkDay] = []
    for (namespace, kind, name), points in sorted(totals.items()):
        by_day: dict[int, list[float]] = defaultdict(list)
        for ts, value in points.items():
            by_day[(ts - step) // DAY * DAY].append(value)
        out.extend(
            NetworkDay(
                namespace, kind, name, datetime.fromtimestamp(day, UTC),
                sum(values) / len(values), max(values), len(values),
            )
            for day, values in sorted(by_day.items())
        )  # fmt: skip
    return out

"""Container usage from metrics.k8s.io, sampled on a timer and summarized per hour and per UTC day.

Every sample of a container (all replicas of a workload share its key) goes into one quantile
sketch per quantity per open period; a period is emitted as ``ContainerUsage`` once the clock has
passed its end, never before, so every summary on the wire is complete. The metrics source and
the clock are passed in: tests run two days of samples in seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cloudios_agent import quantity, wire
from cloudios_agent.kube import scan_list
from cloudios_agent.sketch import Sketch

METRICS_PATH = "/apis/metrics.k8s.io/v1beta1/pods"
SOURCE = "metrics-api"
PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

Resolve = Callable[[str, str], tuple[str, str]]
"""(namespace, pod) -> (workload kind, workload name)."""


@dataclass(frozen=True)
class ContainerSample:
    container: str
    cpu_m: float
    memory_bytes: float


@dataclass(frozen=True)
class PodSample:
    namespace: str
    pod: str
    timestamp: str
    containers: tuple[ContainerSample, ...]


def pod_sample(item: Any) -> PodSample | None:
    """One PodMetrics item; containers with unparsable quantities are left out."""
    if not isinstance(item, dict):
        return None
    meta = item.get("metadata") or {}
    containers: list[ContainerSample] = []
    for c in item.get("containers") or ():
        usage = (c.get("usage") if isinstance(c, dict) else None) or {}
        try:
            cpu = quantity.millicores(str(usage["cpu"]))
            memory = float(quantity.parse(str(usage["memory"])))
        except (quantity.QuantityError, KeyError, TypeError):
            continue
        containers.append(ContainerSample(sys.intern(str(c.get("name"))), cpu, memory))
    if not containers or not meta.get("name"):
        return None
    return PodSample(
        str(meta.get("namespace") or ""),
        str(meta["name"]),
        str(item.get("timestamp") or ""),
        tuple(containers),
    )


def parse_pod_metrics(doc: Any) -> Iterator[PodSample]:
    """The samples of a decoded PodMetricsList."""
    for item in (doc.get("items") if isinstance(doc, dict) else None) or ():
        sample = pod_sample(item)
        if sample is not None:
            yield sample


def metrics_api(get_text: Callable[[str], str]) -> Callable[[], Iterator[PodSample]]:
    """The sampler reading metrics.k8s.io: fetches now (errors surface here), decodes pod by pod later."""

    def sample() -> Iterator[PodSample]:
        text = get_text(METRICS_PATH)
        return (s for s in map(pod_sample, scan_list(text, {})) if s is not None)

    return sample


@dataclass
class _Pair:
    cpu: Sketch = field(default_factory=Sketch)
    memory: Sketch = field(default_factory=Sketch)


Key = tuple[str, str, str, str]
"""(namespace, workload kind, workload name, container)."""


def period_start(period: str, now: datetime) -> datetime:
    if period == "hour":
        return now.replace(minute=0, second=0, microsecond=0)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


class UsageAggregator:
    """Open hourly and daily sketches per container; closed periods wait in ``take_closed``."""

    def __init__(self, source: str = SOURCE) -> None:
        self._source = source
        self._open: dict[tuple[str, datetime], dict[Key, _Pair]] = {}
        self._closed: list[wire.ContainerUsage] = []
        self._last_timestamp: dict[tuple[str, str], str] = {}
        self.samples = 0

    def add(self, samples: Iterable[PodSample], now: datetime, resolve: Resolve) -> int:
        """Add the pod samples of one read taken at ``now``; returns the container samples counted.

        A pod whose metrics timestamp did not move since the last read is skipped: metrics-server
        may refresh less often than the agent samples, and a value must not count twice.
        """
        self.close(now)
        periods = [self._open.setdefault((p, period_start(p, now)), {}) for p in PERIODS]
        seen: dict[tuple[str, str], str] = {}
        added = 0
        for pod in samples:
            ident = (pod.namespace, pod.pod)
            seen[ident] = pod.timestamp
            if pod.timestamp and self._last_timestamp.get(ident) == pod.timestamp:
                continue
            kind, name = resolve(pod.namespace, pod.pod)
            for c in pod.containers:
                key = (sys.intern(pod.namespace), kind, sys.intern(name), c.container)
                for sketches in periods:
                    pair = sketches.get(key)
                    if pair is None:
                        pair = sketches[key] = _Pair()
                    pair.cpu.add(c.cpu_m)
                    pair.memory.add(c.memory_bytes)
                added += 1
        self._last_timestamp = seen
        self.samples += added
        return added

    def close(self, now: datetime) -> int:
        """Move every period that ended at or before ``now`` to the closed list; returns how many."""
        ended = [k for k in self._open if k[1] + PERIODS[k[0]] <= now]
        before = len(self._closed)
        for period, start in sorted(ended, key=lambda k: (k[1], k[0])):
            for (ns, kind, name, container), pair in sorted(self._open.pop((period, start)).items()):
                self._closed.append(
                    wire.ContainerUsage(
                        namespace=ns,
                        workload_kind=kind,
                        workload_name=name,
                        container=container,
                        period=period,
                        start=start,
                        source=self._source,
                        cpu=wire.Summary.of(pair.cpu),
                        memory=wire.Summary.of(pair.memory),
                    )
                )
        return len(self._closed) - before

    def take_closed(self) -> list[wire.ContainerUsage]:
        closed, self._closed = self._closed, []
        return closed

    def open_keys(self) -> int:
        return sum(len(v) for v in self._open.values())

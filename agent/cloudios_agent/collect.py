"""The watch-fed cache of the cluster's objects and the wire ``Inventory`` built from it.

One ``Reflector`` per kind keeps projected records (see ``project``); an inventory is assembled
from them on demand, resolving each pod's controller chain: ReplicaSet -> Deployment, Job ->
CronJob; StatefulSet and DaemonSet directly; a pod without a controller is its own workload.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from cloudios_agent import project, wire
from cloudios_agent.kube import PAGE_LIMIT, WATCH_SECONDS, KubeClient, Reflector, Resource

WORKLOAD_KINDS = {
    "deployments": ("Deployment", "/apis/apps/v1/deployments"),
    "statefulsets": ("StatefulSet", "/apis/apps/v1/statefulsets"),
    "daemonsets": ("DaemonSet", "/apis/apps/v1/daemonsets"),
    "replicasets": ("ReplicaSet", "/apis/apps/v1/replicasets"),
    "jobs": ("Job", "/apis/batch/v1/jobs"),
    "cronjobs": ("CronJob", "/apis/batch/v1/cronjobs"),
}
OTHER_KINDS: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
    "pods": ("/api/v1/pods", project.pod),
    "horizontalpodautoscalers": ("/apis/autoscaling/v2/horizontalpodautoscalers", project.hpa),
    "nodes": ("/api/v1/nodes", project.node),
    "persistentvolumes": ("/api/v1/persistentvolumes", project.volume),
    "persistentvolumeclaims": ("/api/v1/persistentvolumeclaims", project.claim),
    "services": ("/api/v1/services", project.load_balancer),
    "endpointslices": ("/apis/discovery.k8s.io/v1/endpointslices", project.endpoint_slice),
    "namespaces": ("/api/v1/namespaces", project.namespace),
}
DIRECT_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "CronJob"})


class Collector:
    """Reflectors for every kind the agent reads, and the inventory they add up to."""

    def __init__(
        self, client: KubeClient, *, page_limit: int = PAGE_LIMIT, watch_seconds: int = WATCH_SECONDS
    ) -> None:
        options: dict[str, Any] = {"page_limit": page_limit, "watch_seconds": watch_seconds}
        self.reflectors: dict[str, Reflector[Any]] = {}
        for name, (kind, path) in WORKLOAD_KINDS.items():
            self.reflectors[name] = Reflector(client, Resource(name, path), project.workload(kind), **options)
        for name, (path, projection) in OTHER_KINDS.items():
            self.reflectors[name] = Reflector(client, Resource(name, path), projection, **options)
        self._threads: list[threading.Thread] = []

    def start(self, stop: threading.Event) -> None:
        for name, reflector in self.reflectors.items():
            thread = threading.Thread(target=reflector.run, args=(stop,), name=f"watch-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def wait_synced(self, timeout: float) -> bool:
        """True once every kind has been listed at least once."""
        deadline = time.monotonic() + timeout
        return all(r.synced.wait(max(0.0, deadline - time.monotonic())) for r in self.reflectors.values())

    def workload_of(self, ident: project.Owned) -> tuple[str, str]:
        """(kind, name) of the workload that owns a pod, following ReplicaSet and Job owners one step up."""
        kind, name = ident.owner_kind, ident.owner_name
        if kind is None or name is None:
            return "Pod", ident.name
        if kind in DIRECT_KINDS:
            return kind, name
        if kind in {"ReplicaSet", "Job"}:
            parent = self.reflectors["replicasets" if kind == "ReplicaSet" else "jobs"].get(
                f"{ident.namespace}/{name}"
            )
            grand = "Deployment" if kind == "ReplicaSet" else "CronJob"
            if parent is not None and parent.ident.owner_kind == grand and parent.ident.owner_name:
                return grand, parent.ident.owner_name
            return kind, name
        return "Pod", ident.name  # static pods (owned by a Node) and unknown controllers

    def pod_workload(self, namespace: str, pod: str) -> tuple[str, str] | None:
        """(workload kind, workload name) of a pod in the cache, None for a pod it does not hold."""
        record = self.reflectors["pods"].get(f"{namespace}/{pod}")
        return None if record is None else self.workload_of(record.ident)

    def known_workloads(self, namespace: str) -> dict[str, str]:
        """{workload name: kind} of the workloads of a namespace that exist now."""
        return {
            w.ident.name: w.kind
            for name in WORKLOAD_KINDS
            for w in self.reflectors[name].snapshot()
            if w.ident.namespace == namespace
        }

    def pod_counts(self) -> dict[str, int]:
        """Pods per namespace (how the history backfill sizes its namespace batches)."""
        counts: dict[str, int] = defaultdict(int)
        for p in self.reflectors["pods"].snapshot():
            counts[p.ident.namespace] += 1
        return dict(counts)

    def pod_workloads(self) -> dict[tuple[str, str], tuple[str, str]]:
        """(namespace, pod) -> (workload kind, workload name) for every pod in the cache."""
        return {
            (p.ident.namespace, p.ident.name): self.workload_of(p.ident)
            for p in self.reflectors["pods"].snapshot()
        }

    def inventory(self, now: datetime) -> wire.Inventory:
        pods = [self._pod(p) for p in self.reflectors["pods"].snapshot()]
        return wire.Inventory(
            taken_at=now,
            nodes=tuple(sorted(self.reflectors["nodes"].snapshot(), key=lambda n: n.name)),
            workloads=self._workloads(),
            pods=tuple(sorted(pods, key=lambda p: (p.namespace, p.name))),
            claims=tuple(self.reflectors["persistentvolumeclaims"].snapshot()),
            volumes=tuple(self.reflectors["persistentvolumes"].snapshot()),
            load_balancers=self._load_balancers(),
            namespaces=tuple(self.reflectors["namespaces"].snapshot()),
        )

    def _pod(self, record: project.PodRecord) -> wire.Pod:
        kind, name = self.workload_of(record.ident)
        return wire.Pod(
            namespace=record.ident.namespace,
            name=record.ident.name,
            workload_kind=kind,
            workload_name=name,
            phase=record.phase,
            containers=record.containers,
            node=record.node,
            started_at=record.started_at,
            claims=record.claims,
        )

    def _workloads(self) -> tuple[wire.Workload, ...]:
        hpas = {
            (h.namespace, h.target_kind, h.target_name): h.hpa
            for h in self.reflectors["horizontalpodautoscalers"].snapshot()
        }
        out: list[wire.Workload] = []
        for name in WORKLOAD_KINDS:
            for w in self.reflectors[name].snapshot():
                # A ReplicaSet under a Deployment or a Job under a CronJob is reported through its parent.
                if (w.kind, w.ident.owner_kind) in {("ReplicaSet", "Deployment"), ("Job", "CronJob")}:
                    continue
                ns = w.ident.namespace
                out.append(
                    wire.Workload(
                        ns,
                        w.kind,
                        w.ident.name,
                        w.created_at,
                        w.replicas,
                        hpas.get((ns, w.kind, w.ident.name)),
                    )
                )
        return tuple(sorted(out, key=lambda w: (w.namespace, w.kind, w.name)))

    def _load_balancers(self) -> tuple[wire.LoadBalancer, ...]:
        ready: dict[tuple[str, str], int] = defaultdict(int)
        for s in self.reflectors["endpointslices"].snapshot():
            ready[s.namespace, s.service] += s.ready
        return tuple(
            wire.LoadBalancer(s.namespace, s.name, s.created_at, ready.get((s.namespace, s.name), 0))
            for s in self.reflectors["services"].snapshot()
        )

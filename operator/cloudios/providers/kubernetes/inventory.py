"""The agent's latest inventory and the merged usage as domain resources (``domain.kubernetes`` kinds)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudios.domain import Metric, MetricSummary, Provider, Resource
from cloudios.domain import kubernetes as k8s
from cloudios.domain.cluster import ClusterState
from cloudios.providers.kubernetes import nodes, storage
from cloudios.providers.kubernetes.usage import ContainerWindow, Key
from cloudios_agent.wire import Container, Pod, Resources, Workload

_ENDED = frozenset({"Succeeded", "Failed"})
_HOUR = 3600


@dataclass(frozen=True)
class Window:
    """The scan's window: [start, end), and since when the cluster could be observed at all."""

    start: datetime
    end: datetime
    lookback_days: int
    observed_from: datetime


@dataclass
class _Builder:
    state: ClusterState
    window: Window
    cloud: str | None
    region: str

    def resource(
        self, kind: str, rid: str, name: str, created: datetime | None, **attributes: Any
    ) -> Resource:
        return Resource(
            provider=Provider.KUBERNETES,
            account_id=self.state.cluster,
            region=self.region,
            kind=kind,
            id=rid,
            name=name,
            created_at=created,
            attributes=attributes,
        )


def build(
    state: ClusterState, windows: Mapping[Key, ContainerWindow], window: Window
) -> tuple[list[Resource], dict[str, dict[Metric, MetricSummary]]]:
    """Resources of every kind and the containers' daily metric summaries."""
    inv = state.inventory
    cloud, region = nodes.cluster_placement(inv.nodes)
    b = _Builder(state, window, cloud, region)
    out: list[Resource] = [
        b.resource(
            k8s.K8S_CLUSTER,
            state.cluster,
            state.cluster,
            state.first_report_at,
            cloud=cloud,
            firstReportAt=_iso(state.first_report_at),
            receivedAt=_iso(state.received_at),
            nodes=len(inv.nodes),
        ),
        *(nodes.node_resource(n, cluster=state.cluster, cluster_region=region) for n in inv.nodes),
    ]
    pods_of: dict[tuple[str, str, str], list[Pod]] = defaultdict(list)
    for pod in inv.pods:
        pods_of[(pod.namespace, pod.workload_kind, pod.workload_name)].append(pod)
        out.append(_pod(b, pod))
    metrics: dict[str, dict[Metric, MetricSummary]] = {}
    for workload in inv.workloads:
        pods = pods_of.get((workload.namespace, workload.kind, workload.name), [])
        out.append(_workload(b, workload, pods))
        out.extend(_containers(b, workload, pods, windows, metrics))
    out += _claims(b)
    out += [
        b.resource(
            k8s.K8S_VOLUME,
            v.name,
            v.name,
            v.created_at,
            phase=v.phase,
            capacityBytes=v.capacity_bytes,
            storageClass=v.storage_class,
            claim=v.claim,
            csiDriver=v.csi_driver,
            **_disk(b, v.csi_driver, v.storage_class),
            createdAt=_iso(v.created_at),
        )
        for v in inv.volumes
    ]
    unready = state.load_balancers_unready_since
    out += [
        b.resource(
            k8s.K8S_LOAD_BALANCER,
            f"{lb.namespace}/{lb.name}",
            lb.name,
            lb.created_at,
            namespace=lb.namespace,
            readyEndpoints=lb.ready_endpoints,
            unreadySince=_iso(unready.get(f"{lb.namespace}/{lb.name}")),
            cloud=cloud,
            createdAt=_iso(lb.created_at),
        )
        for lb in inv.load_balancers
    ]
    return out, metrics


def workload_id(namespace: str, kind: str, name: str) -> str:
    return f"{namespace}/{kind}/{name}"


def _pod(b: _Builder, pod: Pod) -> Resource:
    return b.resource(
        k8s.K8S_POD,
        f"{pod.namespace}/{pod.name}",
        pod.name,
        pod.started_at,
        namespace=pod.namespace,
        workload=workload_id(pod.namespace, pod.workload_kind, pod.workload_name),
        workloadKind=pod.workload_kind,
        node=pod.node,
        phase=pod.phase,
        startedAt=_iso(pod.started_at),
        claims=list(pod.claims),
        containers=[_container_spec(c) for c in pod.containers],
    )


def _workload(b: _Builder, w: Workload, pods: list[Pod]) -> Resource:
    idle = b.state.workloads_idle_since
    since = idle.get(workload_id(w.namespace, w.kind, w.name)) or idle.get(f"{w.namespace}/{w.name}")
    hpa = (
        None
        if w.hpa is None
        else {
            "minReplicas": w.hpa.min_replicas,
            "maxReplicas": w.hpa.max_replicas,
            "metrics": list(w.hpa.metrics),
        }
    )
    return b.resource(
        k8s.K8S_WORKLOAD,
        workload_id(w.namespace, w.kind, w.name),
        w.name,
        w.created_at,
        namespace=w.namespace,
        workloadKind=w.kind,
        workloadName=w.name,
        replicas=w.replicas,
        hpa=hpa,
        idleSince=_iso(since),
        runningPods=sum(p.phase == "Running" for p in pods),
    )


def _containers(
    b: _Builder,
    w: Workload,
    pods: list[Pod],
    windows: Mapping[Key, ContainerWindow],
    metrics: dict[str, dict[Metric, MetricSummary]],
) -> Iterable[Resource]:
    """One resource per container of the workload's newest running (else newest) pod."""
    live = [p for p in pods if p.phase not in _ENDED]
    if not live:
        return
    newest = max(live, key=lambda p: (p.phase == "Running", p.started_at or w.created_at))
    observed = max(b.window.start, b.window.observed_from, w.created_at)
    window_hours = max(1, round((b.window.end - observed).total_seconds() / _HOUR))
    wid = workload_id(w.namespace, w.kind, w.name)
    for spec in newest.containers:
        same = [c for p in live for c in p.containers if c.name == spec.name]
        ooms = [c.last_oom_killed_at for c in same if c.last_oom_killed_at is not None]
        usage = windows.get((w.namespace, w.kind, w.name, spec.name))
        cid = f"{wid}/{spec.name}"
        hours = 0 if usage is None else usage.hours_with_data
        yield b.resource(
            k8s.K8S_CONTAINER,
            cid,
            spec.name,
            w.created_at,
            workload=wid,
            namespace=w.namespace,
            workloadKind=w.kind,
            workloadName=w.name,
            container=spec.name,
            requests=_quantities(spec.requests),
            limits=_quantities(spec.limits),
            restarts=sum(c.restarts for c in same),
            lastOomKilledAt=_iso(max(ooms) if ooms else None),
            cpu=None if usage is None else usage.cpu,
            memory=None if usage is None else usage.memory,
            hoursWithData=hours,
            windowHours=window_hours,
            runningShare=round(min(1.0, hours / window_hours), 4),
            firstUsageAt=None if usage is None else _iso(usage.first_usage_at),
            lastUsageAt=None if usage is None else _iso(usage.last_usage_at),
        )
        if usage is not None:
            lookback = b.window.lookback_days
            metrics[cid] = {
                Metric.CPU_MILLICORES: MetricSummary(
                    resource_id=cid,
                    metric=Metric.CPU_MILLICORES,
                    lookback_days=lookback,
                    daily=usage.cpu_daily,
                ),
                Metric.MEMORY_WORKING_SET_BYTES: MetricSummary(
                    resource_id=cid,
                    metric=Metric.MEMORY_WORKING_SET_BYTES,
                    lookback_days=lookback,
                    daily=usage.memory_daily,
                ),
            }


def _claims(b: _Builder) -> list[Resource]:
    inv = b.state.inventory
    volumes = {v.name: v for v in inv.volumes}
    mounted: dict[str, list[str]] = defaultdict(list)
    for pod in inv.pods:
        if pod.phase not in _ENDED:
            for claim in pod.claims:
                mounted[f"{pod.namespace}/{claim}"].append(pod.name)
    out = []
    for c in inv.claims:
        cid = f"{c.namespace}/{c.name}"
        volume = volumes.get(c.volume or "")
        csi = volume.csi_driver if volume else None
        storage_class = c.storage_class or (volume.storage_class if volume else None)
        out.append(
            b.resource(
                k8s.K8S_CLAIM,
                cid,
                c.name,
                c.created_at,
                namespace=c.namespace,
                phase=c.phase,
                storageClass=storage_class,
                requestedBytes=c.requested_bytes,
                volume=c.volume,
                capacityBytes=volume.capacity_bytes if volume else None,
                csiDriver=csi,
                **_disk(b, csi, storage_class),
                mountedBy=sorted(mounted.get(cid, [])),
                unmountedSince=_iso(b.state.claims_unmounted_since.get(cid)),
                createdAt=_iso(c.created_at),
            )
        )
    return out


def _disk(b: _Builder, csi_driver: str | None, storage_class: str | None) -> dict[str, str | None]:
    cloud, disk_type = storage.disk_of(csi_driver, storage_class, b.cloud)
    return {"cloud": cloud, "diskType": disk_type}


def _container_spec(c: Container) -> dict[str, Any]:
    return {
        "name": c.name,
        "requests": _quantities(c.requests),
        "limits": _quantities(c.limits),
        "restarts": c.restarts,
        "lastOomKilledAt": _iso(c.last_oom_killed_at),
    }


def _quantities(r: Resources) -> dict[str, int | None]:
    return {"cpuM": r.cpu_m, "memoryBytes": r.memory_bytes}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()

"""k8s.workload.abandoned: running workloads that have done nothing for days; scale them to zero or delete.

A Deployment, StatefulSet or ReplicaSet is abandoned when it has running pods, none of its containers
has restarted, and on each of the last minIdleDays days every container's daily p99 CPU (its maximum
where no p99 is known) stayed at or below cpuIdleMillicores. Days without usage data break the run:
silence is not idleness. DaemonSets (node agents), Jobs and CronJobs (idle between runs by design),
bare pods and the excluded namespaces are skipped. A workload already at zero replicas holds no
requests and saves nothing here; its claims surface in k8s.pvc.unused.

Network traffic is not measured, so a quiet service that still answers requests looks the same:
confidence is at most medium. Savings: all its requests at the nodes' CPU and memory unit prices x
its running share of the window. The finding shares the workload's resource id with
k8s.workload.rightsize, so dedupe keeps this one (removal beats a change).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Resource, Snapshot
from cloudios.domain import kubernetes as k8s
from cloudios.modules import confidence as conf
from cloudios.modules.base import MetricNeed, Module, ModuleSpec
from cloudios.modules.kubernetes import _common as common

ELIGIBLE = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})


class WorkloadAbandonedSettings(common.CamelSettings):
    """Thresholds of k8s.workload.abandoned."""

    min_idle_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="Consecutive idle days (ending yesterday) before a workload is reported.",
    )
    cpu_idle_millicores: float = Field(
        default=5, ge=0, description="A day is idle when every container's daily p99 CPU is at or below this."
    )
    exclude_namespaces: list[str] = Field(
        default_factory=lambda: ["kube-system", "kube-public", "kube-node-lease"],
        description="Namespaces never reported (cluster add-ons idle by design).",
    )


SPEC = ModuleSpec(
    name="k8s.workload.abandoned",
    provider=Provider.KUBERNETES,
    category=Category.IDLE,
    summary="Running Deployments, StatefulSets and ReplicaSets whose containers used next to no CPU and "
    "never restarted for minIdleDays days; scale to zero or delete. Savings are their requests at the nodes' "
    "unit prices; at most medium confidence (network traffic is not measured).",
    resource_kinds=(k8s.K8S_WORKLOAD, k8s.K8S_CONTAINER, k8s.K8S_POD, k8s.K8S_NODE),
    metrics=(MetricNeed(k8s.K8S_CONTAINER, Metric.CPU_MILLICORES),),
    min_days=7,
    permissions=(common.PODS, common.NODES, *common.WORKLOADS, common.POD_METRICS),
    settings=WorkloadAbandonedSettings,
)


def evaluate(snapshot: Snapshot, settings: WorkloadAbandonedSettings) -> Sequence[Finding]:
    cluster = common.Cluster.of(snapshot)
    last_day = snapshot.collected_at.date() - timedelta(days=1)
    findings: list[Finding] = []
    for wid, workload in sorted(cluster.workloads.items()):
        containers = cluster.containers_of.get(wid, [])
        pods = cluster.running_pods(wid)
        if (
            workload.attr("workloadKind") not in ELIGIBLE
            or workload.attr("namespace") in settings.exclude_namespaces
            or not pods
            or not containers
            or any(common.as_int(c.attr("restarts")) for c in containers)
        ):
            continue
        runs = [_idle_run(snapshot, c.id, last_day, settings.cpu_idle_millicores) for c in containers]
        idle_days = min(days for days, _ in runs)
        level = conf.for_days(idle_days, settings.min_idle_days)
        if level is None:
            continue
        share = max(float(c.attr("runningShare") or 0.0) for c in containers)
        kind, namespace, name = (str(workload.attr(k)) for k in ("workloadKind", "namespace", "workloadName"))
        findings.append(
            common.build_finding(
                SPEC,
                workload,
                action=Action.DELETE,
                title=f"Scale to zero or delete idle {kind} {namespace}/{name} ({len(pods)} pod(s))",
                confidence=conf.cap(level, Confidence.MEDIUM),
                current={"runningPods": len(pods), "requests": _requests(pods)},
                proposed={
                    "replicas": 0,
                    "command": common.kubectl("scale", kind, name, namespace, "--replicas=0"),
                },
                evidence=common.evidence(
                    settings,
                    idle_days,
                    idleDays=idle_days,
                    highestDailyCpuMillicores=round(max(peak for _, peak in runs), 3),
                    runningShare=share,
                    restarts=0,
                    note="CPU only: network traffic is not measured; check the workload's callers first.",
                ),
                current_usage=common.held_usage(cluster, pods, common.pod_requests, share),
            )
        )
    return findings


def _idle_run(snapshot: Snapshot, container_id: str, last_day: date, threshold: float) -> tuple[int, float]:
    """(consecutive idle days ending ``last_day``, the highest daily p99 CPU among them).

    A day is idle when it has samples and its p99 (else its maximum) is at most ``threshold``.
    """
    by_day = {d.day: d for d in snapshot.metric(container_id, Metric.CPU_MILLICORES).daily if d.samples > 0}
    run, peak, day = 0, 0.0, last_day
    while (stat := by_day.get(day)) is not None:
        high = stat.p99 if stat.p99 is not None else stat.maximum
        if high > threshold:
            break
        run, peak, day = run + 1, max(peak, high), day - timedelta(days=1)
    return run, peak


def _requests(pods: list[Resource]) -> dict[str, str]:
    cpu_m = sum(common.pod_requests(p)[0] for p in pods)
    memory = sum(common.pod_requests(p)[1] for p in pods)
    return {"cpu": common.cpu_quantity(cpu_m), "memory": common.memory_quantity(memory)}


MODULE = Module(SPEC, evaluate)

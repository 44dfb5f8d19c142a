"""k8s.workload.rightsize: container requests sized from observed usage, as a patch the user can apply.

CPU request = the window's cpuPercentile (p95 or p99 of the merged daily sketches, never a
percentile of daily percentiles) x (1 + cpuHeadroom), rounded up to 5m, at least minCpuMillicores.

Memory request = the window's peak working set x (1 + memoryHeadroom), rounded up to a MiB, at least
minMemoryMib. A container OOMKilled inside the window is never lowered: its memory stays at least
the limit it was killed at (else its request) x oomBump (KRR's OOM floor; its users' most common
complaint is OOM kills right after applying advice, robusta-dev/krr#110).

Limits never go down: lowering one saves nothing and is how a missed peak becomes an OOM kill
(krr#379). A limit rises only to stay at least the new request; an unset limit stays unset.

An HPA that scales on CPU (or memory) keeps that request as is: its target utilization is relative
to the request. A change counts only when it is at least minChangeRatio of the current request and
at least minCpuChangeMillicores / minMemoryChangeMib; otherwise no finding. The policy's
minMonthlySavings is the dead-band in dollars.

Each container needs minSamples samples and minDays days of usage; below 7 days a finding is at most
low confidence. Bare pods and Jobs are skipped (their pod template cannot be patched).

Savings: only decreases carry savings, priced as (current - proposed requests) x the CPU and memory
unit prices of the nodes the pods run on x the pods on each node x the workload's running share of
the window. A finding that raises any request (under-provisioned: throttling or OOM risk) is
published unpriced with the reason: it adds cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from pydantic import Field

from cloudios.domain import (
    CONFIDENCE_RANK,
    Action,
    Category,
    Confidence,
    Finding,
    Metric,
    Provider,
    Resource,
    Snapshot,
    Usage,
)
from cloudios.domain import kubernetes as k8s
from cloudios.modules import confidence as conf
from cloudios.modules.base import MetricNeed, Module, ModuleSpec
from cloudios.modules.kubernetes import _common as common
from cloudios.modules.kubernetes import sizing
from cloudios.modules.shared import min_days_field

UNPATCHABLE = frozenset({"Pod", "Job"})


class WorkloadRightsizeSettings(common.CamelSettings):
    """Thresholds of k8s.workload.rightsize."""

    min_days: int = min_days_field()
    min_samples: int = Field(
        default=100,
        ge=1,
        description="Usage samples a container needs (KRR's minimum); fewer give no finding.",
    )
    cpu_percentile: Literal[95, 99] = Field(
        default=95,
        description="95 or 99: the percentile of CPU use over the window (merged sketches) used as the need.",
    )
    cpu_headroom: float = Field(default=0.15, ge=0, le=2, description="Added to the CPU need (0.15 = 15%).")
    memory_headroom: float = Field(
        default=0.15, ge=0, le=2, description="Added to the peak working set (0.15 = 15%, KRR's margin)."
    )
    oom_bump: float = Field(
        default=1.25,
        ge=1,
        le=4,
        description="An OOMKilled container keeps at least this x the limit it was killed at.",
    )
    min_cpu_millicores: int = Field(default=10, ge=1, description="Smallest CPU request proposed.")
    min_memory_mib: int = Field(default=32, ge=1, description="Smallest memory request proposed, MiB.")
    min_change_ratio: float = Field(
        default=0.1, ge=0, le=1, description="A change smaller than this fraction of the request is ignored."
    )
    min_cpu_change_millicores: int = Field(default=10, ge=0, description="A smaller CPU change is ignored.")
    min_memory_change_mib: int = Field(
        default=16, ge=0, description="A smaller memory change is ignored, MiB."
    )


SPEC = ModuleSpec(
    name="k8s.workload.rightsize",
    provider=Provider.KUBERNETES,
    category=Category.RIGHTSIZE,
    summary="Container CPU and memory requests sized from the agent's usage (CPU percentile plus headroom, "
    "memory peak x 1.15, OOM floor, HPA guard, dead-band), with a kubectl patch; decreases carry savings "
    "at the nodes' unit prices, increases are published as risks.",
    resource_kinds=(k8s.K8S_WORKLOAD, k8s.K8S_CONTAINER, k8s.K8S_POD, k8s.K8S_NODE),
    metrics=(
        MetricNeed(k8s.K8S_CONTAINER, Metric.CPU_MILLICORES),
        MetricNeed(k8s.K8S_CONTAINER, Metric.MEMORY_WORKING_SET_BYTES),
    ),
    min_days=7,
    permissions=(common.PODS, common.NODES, *common.WORKLOADS, common.HPAS, common.POD_METRICS),
    settings=WorkloadRightsizeSettings,
)


def evaluate(snapshot: Snapshot, settings: WorkloadRightsizeSettings) -> Sequence[Finding]:
    cluster = common.Cluster.of(snapshot)
    window_start = snapshot.collected_at - timedelta(days=snapshot.lookback_days)
    findings: list[Finding] = []
    for wid, workload in sorted(cluster.workloads.items()):
        kind = str(workload.attr("workloadKind"))
        pods = cluster.running_pods(wid)
        if kind in UNPATCHABLE or not pods:
            continue
        hpa_metrics = set((workload.attr("hpa") or {}).get("metrics") or ())
        sized: list[sizing.Sizing] = []
        levels: list[Confidence] = []
        days: list[int] = []
        for container in cluster.containers_of.get(wid, []):
            found = _confidence(snapshot, container, settings)
            if found is None:
                continue
            proposal = sizing.size(container, settings, window_start=window_start, hpa_metrics=hpa_metrics)
            if proposal.changed:
                sized.append(proposal)
                levels.append(found[0])
                days.append(found[1])
        if sized:
            level = min(levels, key=CONFIDENCE_RANK.__getitem__)
            findings.append(
                _finding(
                    cluster, workload, pods=pods, sized=sized, level=level, days=min(days), settings=settings
                )
            )
    return findings


def _confidence(
    snapshot: Snapshot, container: Resource, settings: WorkloadRightsizeSettings
) -> tuple[Confidence, int] | None:
    """(confidence, days of data): days and samples of both metrics decide; too few: no proposal."""
    days = min(
        snapshot.metric(container.id, Metric.CPU_MILLICORES).days_with_data,
        snapshot.metric(container.id, Metric.MEMORY_WORKING_SET_BYTES).days_with_data,
    )
    samples = min(int((container.attr(q) or {}).get("samples", 0)) for q in ("cpu", "memory"))
    if samples < settings.min_samples:
        return None
    level = conf.for_days(days, settings.min_days)
    return None if level is None else (level, days)


def _finding(
    cluster: common.Cluster,
    workload: Resource,
    *,
    pods: list[Resource],
    sized: list[sizing.Sizing],
    level: Confidence,
    days: int,
    settings: WorkloadRightsizeSettings,
) -> Finding:
    kind, namespace, name = (str(workload.attr(k)) for k in ("workloadKind", "namespace", "workloadName"))
    body, command = sizing.patch(kind, namespace, name, sized)
    raises = [
        f"{dim} of {s.name}"
        for s in sized
        for dim, d in (("CPU", s.cpu), ("memory", s.memory))
        if d == "increase"
    ]
    share = max(
        (float(c.attr("runningShare") or 0.0) for c in cluster.containers_of.get(workload.id, [])),
        default=0.0,
    )
    current_usage: list[Usage]
    proposed_usage: list[Usage] = []
    if raises:
        detail = (
            f"this finding raises requests ({', '.join(raises)}): the workload is under-provisioned (CPU "
            "throttling or OOM-kill risk); a raise adds cost and is published for its risk, not a saving"
        )
        current_usage = [Usage(sku=k8s.INCREASE, region=workload.region, attributes={"detail": detail})]
    else:
        by_name = {s.name: s for s in sized}
        current_usage = common.held_usage(cluster, pods, lambda _p: _held(by_name, current=True), share)
        proposed_usage = common.held_usage(cluster, pods, lambda _p: _held(by_name, current=False), share)
    verb = "Raise" if raises else "Lower"
    return common.build_finding(
        SPEC,
        workload,
        action=Action.RESIZE,
        title=f"{verb} requests of {kind} {namespace}/{name} ({', '.join(s.name for s in sized)})",
        confidence=level,
        current={
            "containers": {
                s.name: {"requests": sizing.shown(s.requests), "limits": sizing.shown(s.limits)}
                for s in sized
            },
            "runningPods": len(pods),
        },
        proposed={
            "containers": {
                s.name: {
                    "requests": sizing.shown(s.proposed_requests),
                    "limits": sizing.shown(s.proposed_limits),
                }
                for s in sized
            },
            "patch": body,
        },
        evidence=common.evidence(
            settings,
            days,
            containers={
                s.name: {**s.basis, "cpu": s.cpu, "memory": s.memory, "notes": s.notes} for s in sized
            },
            runningShare=share,
            hpa=workload.attr("hpa"),
            kubectl=command,
        ),
        current_usage=current_usage,
        proposed_usage=proposed_usage,
    )


def _held(by_name: dict[str, sizing.Sizing], *, current: bool) -> tuple[int, int]:
    """Per pod: the changed requests (current or proposed) summed over the changed containers."""
    cpu_m = sum((s.requests if current else s.proposed_requests)[0] for s in by_name.values() if s.cpu)
    memory = sum((s.requests if current else s.proposed_requests)[1] for s in by_name.values() if s.memory)
    return cpu_m, memory


MODULE = Module(SPEC, evaluate)

"""azure.vm.rightsize: running VMs that fit a cheaper, smaller size of the same series.

Anchored on Azure Advisor's resize rule: the smallest (so cheapest) size on which the P95 of CPU
stays at or below ``cpuTargetPercent`` and the P100 of memory at or below ``memoryTargetPercent``
(Advisor: 40% / 60% for user-facing workloads, 80% / 80% otherwise). CPU need is the 95th
percentile across days of the daily maximum (Azure Monitor has no percentile aggregation, so this
is conservative); memory need is the window's highest use, the VM's memory minus the lowest
``Available Memory Bytes``. Without memory data the target keeps at least ``memoryFloorRatio`` of
the current memory and the finding is at most medium confidence. Only D v3-v6, E v3-v6 and F v2
sizes are resized (catalog.py); B-series (burstable, sized by credits) and scale-set members (the
set's model decides) are skipped. Network is not checked: Azure does not publish a per-size
bandwidth figure the metrics can be compared with.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot
from cloudios.domain.azure import VM
from cloudios.modules import confidence as conf
from cloudios.modules import shared
from cloudios.modules.azure import _common as common
from cloudios.modules.azure import catalog
from cloudios.modules.base import MetricNeed, Module, ModuleSpec

GIB = 1024**3


class VmRightsizeSettings(common.AzureSettings):
    """Thresholds of azure.vm.rightsize."""

    min_days: int = shared.min_days_field()
    cpu_target_percent: float = Field(
        default=40.0,
        gt=0,
        le=100,
        description="Percent: the CPU need (P95 of daily maxima) on the new size must stay at or below "
        "this (Advisor: 40 for user-facing workloads, 80 otherwise).",
    )
    memory_target_percent: float = Field(
        default=60.0,
        gt=0,
        le=100,
        description="Percent: the highest memory use on the new size must stay at or below this "
        "(Advisor: 60 for user-facing workloads, 80 otherwise).",
    )
    memory_floor_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Without memory data, the new size keeps at least this fraction of the current memory.",
    )


SPEC = ModuleSpec(
    name="azure.vm.rightsize",
    provider=Provider.AZURE,
    category=Category.RIGHTSIZE,
    summary="Running VMs whose CPU (P95 of daily maxima) and memory (P100) fit a smaller size of the "
    "same series within Advisor's targets (40% CPU, 60% memory by default). B-series and scale-set "
    "members are skipped.",
    resource_kinds=(VM,),
    metrics=(
        MetricNeed(VM, Metric.CPU_UTILIZATION),
        MetricNeed(VM, Metric.MEMORY_AVAILABLE_BYTES),
    ),
    min_days=7,
    permissions=(common.GRAPH_READ, common.VM_READ, common.METRICS_READ),
    settings=VmRightsizeSettings,
)


def _fit(
    current: catalog.VmSize, cpu_pct: float, memory_used_gib: float | None, settings: VmRightsizeSettings
) -> catalog.VmSize | None:
    for target in catalog.smaller(current):
        projected_cpu = cpu_pct * current.vcpu / target.vcpu
        if projected_cpu > settings.cpu_target_percent:
            continue
        if memory_used_gib is None:
            if target.memory_gib < current.memory_gib * settings.memory_floor_ratio:
                continue
        elif memory_used_gib / target.memory_gib * 100 > settings.memory_target_percent:
            continue
        return target
    return None


def evaluate(snapshot: Snapshot, settings: VmRightsizeSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for vm in snapshot.of_kind(VM):
        current = catalog.describe(str(vm.attr("vmSize") or ""))
        if vm.attr("powerState") != "running" or current is None or vm.attr("scaleSetId"):
            continue
        cpu = snapshot.metric(vm.id, Metric.CPU_UTILIZATION)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if level is None:
            continue
        cpu_pct = cpu.percentile_of_daily(95, "maximum")
        memory = snapshot.metric(vm.id, Metric.MEMORY_AVAILABLE_BYTES)
        free_days = shared.days_with_data(memory)
        memory_used_gib: float | None = None
        if free_days and memory.days_with_data >= settings.min_days:
            least_free = min(d.average if d.minimum is None else d.minimum for d in free_days) / GIB
            memory_used_gib = max(0.0, current.memory_gib - least_free)
        target = _fit(current, cpu_pct, memory_used_gib, settings)
        if target is None:
            continue
        reasons = [] if memory_used_gib is not None else ["memory was not measured"]
        if memory_used_gib is None:
            level = conf.cap(level, Confidence.MEDIUM)
        findings.append(
            shared.build_finding(
                SPEC,
                vm,
                action=Action.RESIZE,
                title=f"Resize Azure VM {shared.label(vm)} from {current.name} to {target.name}",
                confidence=level,
                current=current.shape(),
                proposed=target.shape(),
                evidence=shared.evidence(
                    settings,
                    cpu.days_with_data,
                    (cpu, memory),
                    cpuNeedPercent=round(cpu_pct, 4),
                    projectedCpuPercent=round(cpu_pct * current.vcpu / target.vcpu, 4),
                    memoryUsedGib=None if memory_used_gib is None else round(memory_used_gib, 3),
                    projectedMemoryPercent=None
                    if memory_used_gib is None
                    else round(memory_used_gib / target.memory_gib * 100, 2),
                    confidenceReasons=reasons,
                ),
                current_usage=[common.vm_usage(vm, current.name)],
                proposed_usage=[common.vm_usage(vm, target.name)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

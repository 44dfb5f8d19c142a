"""gcp.compute.rightsize: running VMs whose CPU need fits a smaller predefined or custom machine type."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot
from cloudios.domain.gcp import GCE_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.base import MetricNeed, Module, ModuleSpec
from cloudios.modules.gcp import _common as common
from cloudios.modules.gcp import machines


class ComputeRightsizeSettings(common.GcpSettings):
    """Thresholds of gcp.compute.rightsize."""

    min_days: int = common.min_days_field()
    percentile: float = Field(
        default=95.0,
        gt=0,
        le=100,
        description="Percentile across days of the daily CPU maximum taken as the CPU need.",
    )
    headroom: float = Field(
        default=0.2,
        ge=0,
        le=2,
        description="Spare capacity added to the CPU need, as a fraction (0.2 = 20%).",
    )
    memory_floor_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Memory is not measured without the Ops Agent: the proposed type keeps at least "
        "this fraction of the current memory.",
    )


SPEC = ModuleSpec(
    name="gcp.compute.rightsize",
    provider=Provider.GCP,
    category=Category.RIGHTSIZE,
    summary="Running Compute Engine VMs whose CPU need (a percentile of daily maximum CPU plus "
    "headroom) fits a smaller machine type of the same family and class, or a smaller custom "
    "type; memory keeps a floor because it is not measured, so findings are at most medium "
    "confidence. Shared-core types and managed instance group members are skipped.",
    resource_kinds=(GCE_INSTANCE,),
    metrics=(MetricNeed(GCE_INSTANCE, Metric.CPU_UTILIZATION),),
    min_days=7,
    permissions=("compute.instances.list", common.MONITORING_READ),
    settings=ComputeRightsizeSettings,
)


def evaluate(snapshot: Snapshot, settings: ComputeRightsizeSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for vm in snapshot.of_kind(GCE_INSTANCE):
        current = machines.parse(str(vm.attr("machineType") or ""))
        if vm.attr("status") != "RUNNING" or current is None or current.shared_core or vm.attr("managedBy"):
            continue
        cpu = snapshot.metric(vm.id, Metric.CPU_UTILIZATION)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if level is None:
            continue
        need_pct = cpu.percentile_of_daily(settings.percentile)
        needed_vcpu = current.vcpu * need_pct / 100 * (1 + settings.headroom)
        target = machines.smaller_fit(current, needed_vcpu, settings.memory_floor_ratio)
        if target is None:
            continue
        findings.append(
            common.build_finding(
                SPEC,
                vm,
                action=Action.RESIZE,
                title=f"Resize VM {common.label(vm)} from {current.name} to {target.name}",
                confidence=conf.cap(level, Confidence.MEDIUM),
                current=current.shape(),
                proposed=target.shape(),
                evidence=common.evidence(
                    settings,
                    cpu.days_with_data,
                    (cpu,),
                    cpuNeedPercent=round(need_pct, 4),
                    neededVcpu=round(needed_vcpu, 4),
                    projectedPeakCpuPercent=round(need_pct * current.vcpu / target.vcpu, 4),
                    customMachineType=current.custom,
                    memoryMeasured=False,
                    note="Memory is not measured (Ops Agent metrics are not read): the proposal keeps "
                    "memoryFloorRatio of the current memory; check memory use before resizing.",
                ),
                current_usage=[common.instance_usage(vm, current.name)],
                proposed_usage=[common.instance_usage(vm, target.name)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""aws.ec2.rightsize: running instances whose CPU need fits a smaller size of the same family.

Scheme: the CPU need is the ``percentile``-th percentile across days of the daily high CPU
percentile (p99 where fetched, else p95, else the daily maximum), as a fraction of the current
vCPUs, plus ``headroom``: ``needed vCPUs = current vCPUs x percentile / 100 x (1 + headroom)``.
Recurring peaks are respected: the recurring daily peak is the daily maximum reached on at least
``recurringPeakDays`` days (a daily batch job), and no size is proposed on which that peak would
exceed 100% of the new vCPUs, unless ``allowBatchSlowdown`` says slower batches are acceptable. The
proposal is the smallest, so cheapest, size below the current one in the same family (so same
generation and architecture) that passes both and holds the memory need. Memory is measured when
the CloudWatch agent publishes it (``mem_used_percent`` on Linux, ``Memory % Committed Bytes In
Use`` on Windows) on at least ``minDays`` days: the new size must then hold the observed peak
(the window's highest daily maximum) plus ``headroom``, and findings may be high confidence.
Without it (or with fewer days) memory is kept by ``memoryFloorRatio`` of the current memory, not
by data, the evidence says memory was not measured, and findings are at most medium confidence.
Burstable (t*) families are excluded (their sizing depends on CPU credits, not vCPUs), and Auto
Scaling group members are skipped (the group's launch template sets the size).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot
from cloudios.domain.resource import EC2_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.aws import catalog
from cloudios.modules.base import MetricNeed, Module, ModuleSpec


class Ec2RightsizeSettings(common.AwsSettings):
    """Thresholds of aws.ec2.rightsize."""

    min_days: int = common.min_days_field()
    percentile: float = Field(
        default=95.0,
        gt=0,
        le=100,
        description="Percentile across days of the daily high CPU percentile (p99 where fetched, "
        "else p95, else the daily maximum) taken as the CPU need.",
    )
    recurring_peak_days: int = Field(
        default=3,
        ge=1,
        le=90,
        description="Days on which a daily CPU maximum must recur to count as a recurring peak (a "
        "daily batch job); the recurring peak is the recurringPeakDays-th highest daily maximum.",
    )
    allow_batch_slowdown: bool = Field(
        default=False,
        description="Allow sizes on which the recurring daily peak would exceed 100% of the new "
        "vCPUs (batch jobs run longer); off by default.",
    )
    headroom: float = Field(
        default=0.2,
        ge=0,
        le=2,
        description="Spare capacity added to the CPU need and to the measured memory peak, as a "
        "fraction (0.2 = 20%); the new size must hold need x (1 + headroom) within its vCPUs and "
        "memory.",
    )
    memory_floor_ratio: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="Without CloudWatch agent memory data (on at least minDays days), the proposed "
        "size keeps at least this fraction of the current memory.",
    )


SPEC = ModuleSpec(
    name="aws.ec2.rightsize",
    provider=Provider.AWS,
    category=Category.RIGHTSIZE,
    summary="Running EC2 instances whose CPU need (a percentile of daily p99 CPU plus headroom) "
    "and recurring daily peak fit a cheaper, smaller size of the same family. Memory is sized on "
    "the CloudWatch agent's memory metric when present (observed peak plus headroom); without it "
    "memory is kept above a floor and findings are at most medium confidence. Burstable t* "
    "families and Auto Scaling group members are skipped.",
    resource_kinds=(EC2_INSTANCE,),
    metrics=(
        MetricNeed(EC2_INSTANCE, Metric.CPU_UTILIZATION),
        MetricNeed(EC2_INSTANCE, Metric.MEMORY_USED_PERCENT),
    ),
    min_days=7,
    permissions=("ec2:DescribeInstances", common.CLOUDWATCH_READ, *common.LB_ERRORS_READ),
    settings=Ec2RightsizeSettings,
)


def _smaller_fit(
    current: catalog.InstanceType,
    needed_vcpu: float,
    peak_vcpu: float,
    needed_gib: float,
    settings: Ec2RightsizeSettings,
) -> catalog.InstanceType | None:
    """The smallest same-family type below the current one with enough vCPUs and memory.

    ``peak_vcpu`` (the recurring daily peak in vCPUs) must fit too, unless batch slowdowns are
    allowed. Within a family the on-demand price grows with size, so the smallest fit is the cheapest.
    """
    fits = [
        t
        for t in catalog.load().family(current.family)
        if needed_vcpu <= t.vcpu < current.vcpu
        and (settings.allow_batch_slowdown or peak_vcpu <= t.vcpu)
        and t.memory_gib >= needed_gib
    ]
    return fits[0] if fits else None


def evaluate(snapshot: Snapshot, settings: Ec2RightsizeSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for instance in snapshot.of_kind(EC2_INSTANCE):
        current = catalog.load().get(str(instance.attr("instanceType") or ""))
        if instance.attr("state") != "running" or current is None or current.burstable:
            continue
        if instance.attr("autoScalingGroup"):
            continue
        cpu = snapshot.metric(instance.id, Metric.CPU_UTILIZATION)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if level is None:
            continue
        need_pct = cpu.percentile_of_daily(settings.percentile, "high")
        needed_vcpu = current.vcpu * need_pct / 100 * (1 + settings.headroom)
        peak_pct = common.recurring_peak(
            [d.maximum for d in common.days_with_data(cpu)], settings.recurring_peak_days
        )
        memory = snapshot.metric(instance.id, Metric.MEMORY_USED_PERCENT)
        measured = memory.days_with_data >= settings.min_days
        if measured:
            memory_peak_pct = memory.maximum
            needed_gib = current.memory_gib * memory_peak_pct / 100 * (1 + settings.headroom)
            memory_evidence: dict[str, object] = {
                "memoryMeasured": True,
                "memoryPeakPercent": round(memory_peak_pct, 4),
                "neededMemoryGib": round(needed_gib, 4),
            }
        else:
            needed_gib = current.memory_gib * settings.memory_floor_ratio
            memory_evidence = {
                "memoryMeasured": False,
                "note": f"Memory is not measured (no CloudWatch agent memory metric on {settings.min_days}"
                f" days or more; {memory.days_with_data} found): the proposal keeps memoryFloorRatio "
                "of the current memory; check memory use before resizing.",
            }
        target = _smaller_fit(current, needed_vcpu, current.vcpu * peak_pct / 100, needed_gib, settings)
        if target is None:
            continue
        cap = Confidence.HIGH if measured else Confidence.MEDIUM
        summaries = (cpu, memory) if memory.days_with_data else (cpu,)
        findings.append(
            common.build_finding(
                SPEC,
                instance,
                action=Action.RESIZE,
                title=f"Resize EC2 instance {common.label(instance)} from {current.name} to {target.name}",
                confidence=conf.cap(level, cap),
                current=current.shape(),
                proposed=target.shape(),
                evidence=common.evidence(
                    settings,
                    cpu.days_with_data,
                    summaries,
                    cpuNeedPercent=round(need_pct, 4),
                    neededVcpu=round(needed_vcpu, 4),
                    projectedPeakCpuPercent=round(need_pct * current.vcpu / target.vcpu, 4),
                    recurringDailyPeakPercent=round(peak_pct, 4),
                    projectedRecurringPeakPercent=round(peak_pct * current.vcpu / target.vcpu, 4),
                    **memory_evidence,
                ),
                current_usage=[common.ec2_usage(instance, current.name)],
                proposed_usage=[common.ec2_usage(instance, target.name)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

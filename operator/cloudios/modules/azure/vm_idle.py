"""azure.vm.idle: running VMs whose CPU and network stay near zero; proposes deallocating them.

Anchored on Azure Advisor's shutdown rule (P95 of maximum CPU < 3%, P100 of average CPU <= 2%,
little outbound network), adapted to daily statistics: Azure Monitor has no percentile
aggregation, so each day carries its average and the maximum of its 1-minute samples. The highest
daily average must stay below ``cpuAverageThreshold``; the 95th percentile across days of the
daily maximum below ``cpuPeakThreshold`` (daily maxima include agent and patching spikes that
Advisor's 30-minute averaging smooths, hence a higher default); daily network in + out below
``networkBytesPerDayThreshold`` on average. Confidence follows days of data; without network data it
is at most medium, and scale-set members are low (scale the set in instead).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot
from cloudios.domain.azure import VM
from cloudios.modules import confidence as conf
from cloudios.modules import shared
from cloudios.modules.azure import _common as common
from cloudios.modules.base import MetricNeed, Module, ModuleSpec


class VmIdleSettings(common.AzureSettings):
    """Thresholds of azure.vm.idle."""

    min_days: int = shared.min_days_field()
    cpu_average_threshold: float = Field(
        default=3.0, gt=0, le=100, description="Percent CPU: the highest daily average must stay below this."
    )
    cpu_peak_threshold: float = Field(
        default=20.0,
        gt=0,
        le=100,
        description="Percent CPU: the 95th percentile across days of the daily maximum must stay below this.",
    )
    network_bytes_per_day_threshold: int = Field(
        default=50_000_000,
        ge=0,
        description="Bytes: mean daily network traffic (in + out) must stay below this (50 MB).",
    )


SPEC = ModuleSpec(
    name="azure.vm.idle",
    provider=Provider.AZURE,
    category=Category.IDLE,
    summary="Running Azure VMs with near-zero CPU and network over the window (Advisor's shutdown "
    "rule on daily statistics); deallocate them. Savings are the VM's compute; its disks stay billed.",
    resource_kinds=(VM,),
    metrics=(
        MetricNeed(VM, Metric.CPU_UTILIZATION),
        MetricNeed(VM, Metric.NETWORK_IN_BYTES),
        MetricNeed(VM, Metric.NETWORK_OUT_BYTES),
    ),
    min_days=7,
    permissions=(common.GRAPH_READ, common.VM_READ, common.METRICS_READ),
    settings=VmIdleSettings,
)


def evaluate(snapshot: Snapshot, settings: VmIdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for vm in snapshot.of_kind(VM):
        size = str(vm.attr("vmSize") or "")
        if vm.attr("powerState") != "running" or not size:
            continue
        cpu = snapshot.metric(vm.id, Metric.CPU_UTILIZATION)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if level is None:
            continue
        days = shared.days_with_data(cpu)
        max_daily_average = max(d.average for d in days)
        peak = cpu.percentile_of_daily(95, "maximum")
        if max_daily_average >= settings.cpu_average_threshold or peak >= settings.cpu_peak_threshold:
            continue
        net_in = snapshot.metric(vm.id, Metric.NETWORK_IN_BYTES)
        net_out = snapshot.metric(vm.id, Metric.NETWORK_OUT_BYTES)
        network = shared.totals_by_day(net_in, net_out)
        mean_network = sum(network.values()) / len(network) if network else None
        if mean_network is not None and mean_network >= settings.network_bytes_per_day_threshold:
            continue
        reasons: list[str] = []
        if mean_network is None:
            level = conf.cap(level, Confidence.MEDIUM)
            reasons.append("network traffic was not measured")
        scale_set = vm.attr("scaleSetId")
        if scale_set:
            level = conf.cap(level, Confidence.LOW)
            reasons.append("member of a scale set: scale the set in instead")
        findings.append(
            shared.build_finding(
                SPEC,
                vm,
                action=Action.STOP,
                title=f"Deallocate idle Azure VM {shared.label(vm)} ({size})",
                confidence=level,
                current={"vmSize": size, "powerState": "running"},
                proposed={"powerState": "deallocated"},
                evidence=shared.evidence(
                    settings,
                    cpu.days_with_data,
                    (cpu, net_in, net_out),
                    maxDailyAverageCpu=round(max_daily_average, 4),
                    p95DailyMaxCpu=round(peak, 4),
                    meanDailyNetworkBytes=None if mean_network is None else round(mean_network),
                    scaleSetId=scale_set,
                    confidenceReasons=reasons,
                    note="Deallocating ends compute charges; managed disks and static public IPs "
                    "remain billed. Stopping from inside the OS does not deallocate.",
                ),
                current_usage=[common.vm_usage(vm, size)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

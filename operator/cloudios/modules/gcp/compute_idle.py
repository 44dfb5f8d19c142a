"""gcp.compute.idle: running VMs whose CPU and network stay near zero; proposes stopping them."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot
from cloudios.domain.gcp import GCE_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.base import MetricNeed, Module, ModuleSpec
from cloudios.modules.gcp import _common as common


class ComputeIdleSettings(common.GcpSettings):
    """Thresholds of gcp.compute.idle."""

    min_days: int = common.min_days_field()
    cpu_average_threshold: float = Field(
        default=5.0, gt=0, le=100, description="Percent CPU: every daily mean must stay below this."
    )
    cpu_peak_threshold: float = Field(
        default=30.0,
        gt=0,
        le=100,
        description="Percent CPU: the daily maximum must stay below this (Cloud Monitoring offers "
        "no percentile of a CPU gauge) except on maxSpikeDays days.",
    )
    max_spike_days: int = Field(
        default=1,
        ge=0,
        description="Days whose CPU maximum may reach cpuPeakThreshold (one-off spikes such as "
        "patching); more mean recurring work, e.g. a nightly batch, and give no finding.",
    )
    network_bytes_per_day_threshold: int = Field(
        default=50_000_000,
        ge=0,
        description="Bytes: mean daily network traffic (received + sent) must stay below this (50 MB).",
    )


SPEC = ModuleSpec(
    name="gcp.compute.idle",
    provider=Provider.GCP,
    category=Category.IDLE,
    summary="Running Compute Engine VMs with near-zero CPU and network over the window; stop them. "
    "Savings are the machine type's vCPU and memory (persistent disks stay billed). Members of "
    "a managed instance group are reported at low confidence: resize the group instead.",
    resource_kinds=(GCE_INSTANCE,),
    metrics=(
        MetricNeed(GCE_INSTANCE, Metric.CPU_UTILIZATION),
        MetricNeed(GCE_INSTANCE, Metric.NETWORK_IN_BYTES),
        MetricNeed(GCE_INSTANCE, Metric.NETWORK_OUT_BYTES),
    ),
    min_days=7,
    permissions=("compute.instances.list", common.MONITORING_READ),
    settings=ComputeIdleSettings,
)


def evaluate(snapshot: Snapshot, settings: ComputeIdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for vm in snapshot.of_kind(GCE_INSTANCE):
        machine_type = vm.attr("machineType")
        if vm.attr("status") != "RUNNING" or not machine_type:
            continue
        cpu = snapshot.metric(vm.id, Metric.CPU_UTILIZATION)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if level is None:
            continue
        days = common.days_with_data(cpu)
        max_daily_mean = max(d.average for d in days)
        spike_days = sum(1 for d in days if d.maximum >= settings.cpu_peak_threshold)
        if max_daily_mean >= settings.cpu_average_threshold or spike_days > settings.max_spike_days:
            continue
        net_in = snapshot.metric(vm.id, Metric.NETWORK_IN_BYTES)
        net_out = snapshot.metric(vm.id, Metric.NETWORK_OUT_BYTES)
        network = common.totals_by_day(net_in, net_out)
        mean_network = sum(network.values()) / len(network) if network else None
        if mean_network is not None and mean_network >= settings.network_bytes_per_day_threshold:
            continue
        reasons: list[str] = []
        if mean_network is None:
            level = conf.cap(level, Confidence.MEDIUM)
            reasons.append("network traffic was not measured")
        if spike_days:
            level = conf.cap(level, Confidence.MEDIUM)
            reasons.append(f"CPU reached {settings.cpu_peak_threshold}% or more on {spike_days} day(s)")
        group = vm.attr("managedBy")
        if group:
            level = conf.cap(level, Confidence.LOW)
            reasons.append(f"member of managed instance group {group}: resize the group instead")
        findings.append(
            common.build_finding(
                SPEC,
                vm,
                action=Action.STOP,
                title=f"Stop idle VM {common.label(vm)} ({machine_type})",
                confidence=level,
                current={"machineType": machine_type, "status": "RUNNING"},
                proposed={"status": "TERMINATED"},
                evidence=common.evidence(
                    settings,
                    cpu.days_with_data,
                    (cpu, net_in, net_out),
                    maxDailyMeanCpu=round(max_daily_mean, 4),
                    peakCpu=round(max(d.maximum for d in days), 4),
                    spikeDays=spike_days,
                    meanDailyNetworkBytes=None if mean_network is None else round(mean_network),
                    managedInstanceGroup=group,
                    confidenceReasons=reasons,
                    note="Stopping ends vCPU and memory charges; persistent disks and static IPs "
                    "stay billed.",
                ),
                current_usage=[common.instance_usage(vm, str(machine_type))],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

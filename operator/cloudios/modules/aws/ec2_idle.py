"""aws.ec2.idle: running instances whose CPU and network stay near zero; proposes stopping them."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot
from cloudios.domain.resource import EC2_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.base import MetricNeed, Module, ModuleSpec


class Ec2IdleSettings(common.AwsSettings):
    """Thresholds of aws.ec2.idle."""

    min_days: int = common.min_days_field()
    cpu_average_threshold: float = Field(
        default=5.0,
        gt=0,
        le=100,
        description="Percent CPU: the highest daily average must stay below this.",
    )
    cpu_peak_threshold: float = Field(
        default=30.0,
        gt=0,
        le=100,
        description="Percent CPU: the highest daily high percentile (p99 where fetched, else p95, "
        "else the daily maximum) must stay below this.",
    )
    max_spike_days: int = Field(
        default=1,
        ge=0,
        description="Days whose CPU maximum may reach cpuPeakThreshold while the percentile stays below "
        "(one-off spikes such as patching); more such days mean recurring work, e.g. a daily "
        "batch job, and give no finding.",
    )
    network_bytes_per_day_threshold: int = Field(
        default=50_000_000,
        ge=0,
        description="Bytes: mean daily network traffic (in + out) must stay below this (50 MB).",
    )


SPEC = ModuleSpec(
    name="aws.ec2.idle",
    provider=Provider.AWS,
    category=Category.IDLE,
    summary="Running EC2 instances with near-zero CPU and network over the window; stop them. "
    "Savings are the instance's compute (attached EBS volumes stay billed). Members of an Auto "
    "Scaling group are reported at low confidence: scale the group down instead.",
    resource_kinds=(EC2_INSTANCE,),
    metrics=(
        MetricNeed(EC2_INSTANCE, Metric.CPU_UTILIZATION),
        MetricNeed(EC2_INSTANCE, Metric.NETWORK_IN_BYTES),
        MetricNeed(EC2_INSTANCE, Metric.NETWORK_OUT_BYTES),
    ),
    min_days=7,
    permissions=("ec2:DescribeInstances", common.CLOUDWATCH_READ),
    settings=Ec2IdleSettings,
)


def evaluate(snapshot: Snapshot, settings: Ec2IdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for instance in snapshot.of_kind(EC2_INSTANCE):
        instance_type = instance.attr("instanceType")
        if instance.attr("state") != "running" or not instance_type:
            continue
        cpu = snapshot.metric(instance.id, Metric.CPU_UTILIZATION)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if level is None:
            continue
        days = common.days_with_data(cpu)
        max_daily_average = max(d.average for d in days)
        peak = max(d.high for d in days)
        spike_days = sum(1 for d in days if d.maximum >= settings.cpu_peak_threshold)
        if (
            max_daily_average >= settings.cpu_average_threshold
            or peak >= settings.cpu_peak_threshold
            or spike_days > settings.max_spike_days
        ):
            continue
        net_in = snapshot.metric(instance.id, Metric.NETWORK_IN_BYTES)
        net_out = snapshot.metric(instance.id, Metric.NETWORK_OUT_BYTES)
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
            reasons.append(f"CPU spiked to {settings.cpu_peak_threshold}% or more on {spike_days} day(s)")
        group = instance.attr("autoScalingGroup")
        if group:
            level = conf.cap(level, Confidence.LOW)
            reasons.append(f"member of Auto Scaling group {group}: scale the group down instead")
        findings.append(
            common.build_finding(
                SPEC,
                instance,
                action=Action.STOP,
                title=f"Stop idle EC2 instance {common.label(instance)} ({instance_type})",
                confidence=level,
                current={"instanceType": instance_type, "state": "running"},
                proposed={"state": "stopped"},
                evidence=common.evidence(
                    settings,
                    cpu.days_with_data,
                    (cpu, net_in, net_out),
                    maxDailyAverageCpu=round(max_daily_average, 4),
                    peakCpu=round(peak, 4),
                    spikeDays=spike_days,
                    meanDailyNetworkBytes=None if mean_network is None else round(mean_network),
                    autoScalingGroup=group,
                    confidenceReasons=reasons,
                    note="Stopping ends compute charges; attached EBS volumes and Elastic IPs remain billed.",
                ),
                current_usage=[common.ec2_usage(instance, instance_type)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""aws.ec2.graviton: x86 instances with an arm64 (Graviton) equivalent; proposes the cheaper one.

The equivalents come from the instance-type catalogue: current-generation arm64 types of the same
class (general, compute, memory, burstable), with exactly the same vCPUs and memory (m5.xlarge ->
m6g.xlarge or m7g.xlarge, c5.2xlarge -> c6g/c7g.2xlarge, r5.large -> r6g/r7g.large, t3.medium ->
t4g.medium). The proposal is the cheapest of them in the instance's region, and only if strictly
cheaper than the current type; without a list price for the current type the first equivalent
(oldest Graviton generation, sold in the most regions) is proposed and the finding is unpriced.

Never for Windows (it does not run on Graviton). The instance must have run at least ``minDays``
days with CPU data (a machine in steady use, not a short-lived test) and be running. Confidence is
at most medium: the move is only safe when the workload, its AMI and every dependency run on arm64,
which no metric shows; the evidence says so. Auto Scaling group members are reported with a note
(change the launch template).

Dedupe: stopping the instance (aws.ec2.idle) beats any change; rightsizing it and moving it to a
current x86 generation (aws.ec2.previous_generation) win over this move whatever the savings,
because they need no change of architecture. So the order on one instance is idle > rightsize >
previous_generation > graviton.
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
from cloudios.pricing import aws as aws_pricing

ARM = "arm64"
X86 = "x86_64"


class GravitonSettings(common.AwsSettings):
    """Choices of aws.ec2.graviton."""

    min_days: int = common.min_days_field()
    target_families: tuple[str, ...] = Field(
        default=(),
        description="Graviton families allowed as targets, e.g. [m7g, c7g, r7g]; empty allows every "
        "arm64 family of the same class.",
    )


SPEC = ModuleSpec(
    name="aws.ec2.graviton",
    provider=Provider.AWS,
    category=Category.MODERNIZE,
    summary="Running Linux x86 EC2 instances with an arm64 (Graviton) type of the same class, vCPUs "
    "and memory; proposes the cheapest. Medium confidence at most: the workload must run on arm64. "
    "Never for Windows.",
    resource_kinds=(EC2_INSTANCE,),
    metrics=(MetricNeed(EC2_INSTANCE, Metric.CPU_UTILIZATION),),
    min_days=7,
    permissions=("ec2:DescribeInstances", common.CLOUDWATCH_READ, *common.LB_ERRORS_READ),
    yields_to=("aws.ec2.idle", "aws.ec2.rightsize", "aws.ec2.previous_generation"),
    settings=GravitonSettings,
)


def equivalents(current: catalog.InstanceType, allowed: tuple[str, ...] = ()) -> list[catalog.InstanceType]:
    """arm64 types of the same class with the same vCPUs and memory, oldest family first."""
    if current.architecture != X86:
        return []
    found = [
        t
        for t in catalog.load().types.values()
        if t.architecture == ARM
        and not t.previous_generation
        and t.family_class == current.family_class
        and t.burstable == current.burstable
        and (t.vcpu, t.memory_gib) == (current.vcpu, current.memory_gib)
        and (not allowed or t.family in allowed)
    ]
    return sorted(found, key=lambda t: t.family)


def _cheapest(
    current: catalog.InstanceType, options: list[catalog.InstanceType], region: str, os_name: str
) -> catalog.InstanceType | None:
    book = aws_pricing.bundled()
    best, best_price = None, book.instance_hourly(region, current.name, os_name)
    if best_price is None:
        return None
    for option in options:
        price = book.instance_hourly(region, option.name, os_name)
        if price is not None and price < best_price:  # ties keep the older, more widely sold family
            best, best_price = option, price
    return best


def evaluate(snapshot: Snapshot, settings: GravitonSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for instance in snapshot.of_kind(EC2_INSTANCE):
        current = catalog.load().get(str(instance.attr("instanceType") or ""))
        if instance.attr("state") != "running" or current is None:
            continue
        usage = common.ec2_usage(instance, current.name)
        os_name = usage.attributes["os"]
        if os_name == "windows":
            continue
        options = equivalents(current, settings.target_families)
        if not options:
            continue
        cpu = snapshot.metric(instance.id, Metric.CPU_UTILIZATION)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if level is None:
            continue
        priced = aws_pricing.bundled().instance_hourly(instance.region, current.name, os_name) is not None
        target = _cheapest(current, options, instance.region, os_name) if priced else options[0]
        if target is None:
            continue
        group = instance.attr("autoScalingGroup")
        findings.append(
            common.build_finding(
                SPEC,
                instance,
                action=Action.MODIFY,
                title=f"Move EC2 instance {common.label(instance)} from {current.name} (x86) to "
                f"Graviton {target.name} (arm64)",
                confidence=conf.cap(level, Confidence.MEDIUM),
                current={**current.shape(), "architecture": current.architecture},
                proposed={**target.shape(), "architecture": target.architecture},
                evidence=common.evidence(
                    settings,
                    cpu.days_with_data,
                    (cpu,),
                    family=current.family,
                    equivalents=[t.name for t in options],
                    targetChosenBy="cheapest arm64 equivalent"
                    if priced
                    else "oldest Graviton generation (no list price in this region: the saving is unpriced)",
                    autoScalingGroup=group,
                    confidenceReasons=["the workload, its AMI and its dependencies must run on arm64"],
                    caveat="Graviton runs arm64 only: rebuild the AMI, container images and native "
                    "dependencies for arm64 and test before moving."
                    + (" For an Auto Scaling group change the launch template." if group else ""),
                ),
                current_usage=[usage],
                proposed_usage=[common.ec2_usage(instance, target.name)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

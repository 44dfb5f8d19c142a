"""aws.ec2.previous_generation: instances of an older family; proposes a cheaper current one.

The target is the cheapest type, among the current-generation successor families the catalogue
lists for the instance's family (same class and architecture: x86 stays x86), with at least the
current vCPUs and memory, priced in the instance's region. No finding when no such type is
cheaper. Where the region has no price for the current type, the target is the smallest fitting
type of the first successor family (medium confidence) and the finding is published unpriced.
Cheapest may be an older current family (m5a before m7i); restrict with ``targetFamilies``.
Dedupe: rightsizing the same instance wins over this move (it saves more: one size down halves the
price), and this move wins over aws.ec2.graviton (no change of architecture).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot
from cloudios.domain.resource import EC2_INSTANCE
from cloudios.modules.aws import _common as common
from cloudios.modules.aws import catalog
from cloudios.modules.base import Module, ModuleSpec
from cloudios.pricing import aws as aws_pricing


class PreviousGenerationSettings(common.AwsSettings):
    """Choices of aws.ec2.previous_generation."""

    target_families: tuple[str, ...] = Field(
        default=(),
        description="Current-generation families allowed as targets, e.g. [m7i, c7i, r7i]; "
        "empty allows every successor family of the same class and architecture.",
    )


SPEC = ModuleSpec(
    name="aws.ec2.previous_generation",
    provider=Provider.AWS,
    category=Category.MODERNIZE,
    summary="Running EC2 instances of a previous-generation family (t1, t2, m1-m4, c1, c3, c4, "
    "r3, r4, i2, d2, ...); proposes the cheapest current-generation type of the same class and "
    "architecture with at least the same vCPUs and memory. No finding when none is cheaper.",
    resource_kinds=(EC2_INSTANCE,),
    permissions=("ec2:DescribeInstances", common.CLOUDWATCH_READ, *common.LB_ERRORS_READ),
    yields_to=("aws.ec2.rightsize",),
    settings=PreviousGenerationSettings,
)


def _first_fit(current: catalog.InstanceType, allowed: tuple[str, ...]) -> catalog.InstanceType | None:
    """Without prices: the smallest fitting type of the first allowed successor family."""
    types = catalog.load()
    for family in current.successors:
        if allowed and family not in allowed:
            continue
        for candidate in types.family(family):
            if candidate.architecture == current.architecture and (
                candidate.vcpu >= current.vcpu and candidate.memory_gib >= current.memory_gib
            ):
                return candidate
    return None


def _target(
    current: catalog.InstanceType, region: str, os_name: str, allowed: tuple[str, ...]
) -> catalog.InstanceType | None:
    book = aws_pricing.bundled()
    current_price = book.instance_hourly(region, current.name, os_name)
    if current_price is None:
        return None
    best: catalog.InstanceType | None = None
    best_price = current_price
    types = catalog.load()
    for family in current.successors:
        if allowed and family not in allowed:
            continue
        for candidate in types.family(family):
            if candidate.architecture != current.architecture:
                continue
            if candidate.vcpu < current.vcpu or candidate.memory_gib < current.memory_gib:
                continue
            price = book.instance_hourly(region, candidate.name, os_name)
            # Strictly cheaper; ties keep the earlier (newer) successor family.
            if price is not None and price < best_price:
                best, best_price = candidate, price
    return best


def evaluate(snapshot: Snapshot, settings: PreviousGenerationSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for instance in snapshot.of_kind(EC2_INSTANCE):
        current = catalog.load().get(str(instance.attr("instanceType") or ""))
        if instance.attr("state") != "running" or current is None:
            continue
        if not current.previous_generation:
            continue
        usage = common.ec2_usage(instance, current.name)
        os_name = usage.attributes["os"]
        priced = aws_pricing.bundled().instance_hourly(instance.region, current.name, os_name) is not None
        target = (
            _target(current, instance.region, os_name, settings.target_families)
            if priced
            else _first_fit(current, settings.target_families)
        )
        if target is None:
            continue
        findings.append(
            common.build_finding(
                SPEC,
                instance,
                action=Action.MODIFY,
                title=f"Move EC2 instance {common.label(instance)} from previous-generation "
                f"{current.name} to {target.name}",
                confidence=Confidence.HIGH if priced else Confidence.MEDIUM,
                current=current.shape(),
                proposed=target.shape(),
                evidence=common.evidence(
                    settings,
                    None,
                    generation=current.generation,
                    family=current.family,
                    architecture=current.architecture,
                    autoScalingGroup=instance.attr("autoScalingGroup"),
                    targetChosenBy="cheapest successor"
                    if priced
                    else "first successor family (no list prices in this region: the saving is unpriced)",
                    note="Current-generation types run on Nitro: the AMI needs ENA and NVMe "
                    "drivers. For Auto Scaling groups change the launch template.",
                ),
                current_usage=[usage],
                proposed_usage=[common.ec2_usage(instance, target.name)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

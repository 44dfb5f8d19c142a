"""aws.rds.previous_generation: DB instances of an older class family; proposes a current one.

Previous-generation classes (db.m1, db.m2, db.m3, db.m4, db.r3, db.r4, db.t1, db.t2) move to their
current successors in the same architecture (db.m5/db.m6i, db.r5/db.r6i, db.t3). The target is the
cheapest successor class with at least the current vCPUs and memory, priced for the instance's
engine, region and Multi-AZ, and only if strictly cheaper. Where the book has no price for the
current class (engine, class or region missing), the target is the smallest fitting class of the
first successor family, the finding is medium confidence and published unpriced with the reason.

Available instances only; the change is a modify with a short outage (a failover for Multi-AZ).
Dedupe: stopping an idle database (aws.rds.idle) and rightsizing it (aws.rds.rightsize, a larger
saving) win over this move on the same instance.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Resource, Snapshot
from cloudios.domain.resource import RDS_INSTANCE
from cloudios.modules.aws import _common as common
from cloudios.modules.aws import catalog, rds_classes
from cloudios.modules.base import Module, ModuleSpec
from cloudios.pricing import aws as aws_pricing


class RdsPreviousGenerationSettings(common.AwsSettings):
    """Choices of aws.rds.previous_generation."""

    target_families: tuple[str, ...] = Field(
        default=(),
        description="Current class families allowed as targets, without the db. prefix, e.g. [m6i, "
        "r6i]; empty allows every successor family.",
    )


SPEC = ModuleSpec(
    name="aws.rds.previous_generation",
    provider=Provider.AWS,
    category=Category.MODERNIZE,
    summary="Available RDS DB instances of a previous-generation class (db.m1-m4, db.r3, db.r4, "
    "db.t1, db.t2); proposes the cheapest current class (db.m5/m6i, db.r5/r6i, db.t3) with at "
    "least the same vCPUs and memory, priced for the engine and Multi-AZ.",
    resource_kinds=(RDS_INSTANCE,),
    permissions=("rds:DescribeDBInstances",),
    yields_to=("aws.rds.idle", "aws.rds.rightsize"),
    settings=RdsPreviousGenerationSettings,
)


def _fitting(current: catalog.InstanceType, allowed: tuple[str, ...]) -> list[catalog.InstanceType]:
    """Successor classes with at least the current vCPUs and memory, in successor order."""
    return [
        t
        for family in rds_classes.SUCCESSORS.get(current.family, ())
        if not allowed or family in allowed
        for t in rds_classes.family(family)
        if t.architecture == current.architecture
        and t.vcpu >= current.vcpu
        and t.memory_gib >= current.memory_gib
    ]


def _target(
    db: Resource, current: catalog.InstanceType, allowed: tuple[str, ...]
) -> tuple[catalog.InstanceType | None, bool]:
    """(target class, priced?): the cheapest fitting successor, else the first fit when unpriced."""
    book = aws_pricing.bundled()
    now = book.monthly(common.rds_usage(db, rds_classes.name(current)))
    options = _fitting(current, allowed)
    if now is None:  # options run smallest first within each family, first family first
        return (options[0] if options else None), False
    best, best_amount = None, now.amount
    for option in options:
        price = book.monthly(common.rds_usage(db, rds_classes.name(option)))
        if price is not None and price.amount < best_amount:  # ties keep the earlier successor
            best, best_amount = option, price.amount
    return best, True


def evaluate(snapshot: Snapshot, settings: RdsPreviousGenerationSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for db in snapshot.of_kind(RDS_INSTANCE):
        engine = str(db.attr("engine") or "")
        current = rds_classes.describe(str(db.attr("dbInstanceClass") or ""))
        if (
            db.attr("status") != "available"
            or current is None
            or current.family not in rds_classes.SUCCESSORS
        ):
            continue
        target, priced = _target(db, current, settings.target_families)
        if target is None:
            continue
        multi_az = common.as_bool(db.attr("multiAz"))
        findings.append(
            common.build_finding(
                SPEC,
                db,
                action=Action.MODIFY,
                title=f"Move RDS instance {common.label(db)} ({engine}) from previous-generation "
                f"{rds_classes.name(current)} to {rds_classes.name(target)}",
                confidence=Confidence.HIGH if priced else Confidence.MEDIUM,
                current={**rds_classes.shape(current), "engine": engine, "multiAz": multi_az},
                proposed={**rds_classes.shape(target), "engine": engine, "multiAz": multi_az},
                evidence=common.evidence(
                    settings,
                    None,
                    family=f"db.{current.family}",
                    successors=[f"db.{f}" for f in rds_classes.SUCCESSORS[current.family]],
                    targetChosenBy="cheapest successor"
                    if priced
                    else "first successor family (no list price for the current class: unpriced)",
                    note="Modifying the class restarts the instance (a failover for Multi-AZ); check "
                    "the engine version supports the new class.",
                ),
                current_usage=[common.rds_usage(db, rds_classes.name(current))],
                proposed_usage=[common.rds_usage(db, rds_classes.name(target))],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

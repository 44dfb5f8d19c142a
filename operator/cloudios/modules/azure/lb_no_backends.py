"""azure.lb.no_backends: Standard load balancers whose backend pools are empty; proposes deleting them.

A Standard load balancer is billed per hour for its rules (the first five together, more per
rule) whether or not anything sits behind it; one without backends forwards nothing. Load
balancers without rules cost nothing hourly and Basic ones are free, so neither is reported.
High confidence: the configuration is the evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Snapshot, Usage
from cloudios.domain.azure import LOAD_BALANCER
from cloudios.modules import shared
from cloudios.modules.azure import _common as common
from cloudios.modules.base import Module, ModuleSpec

INCLUDED_RULES = 5


class LbSettings(common.AzureSettings):
    """azure.lb.no_backends has no thresholds."""


SPEC = ModuleSpec(
    name="azure.lb.no_backends",
    provider=Provider.AZURE,
    category=Category.ORPHANED,
    summary="Standard load balancers with rules but no backend targets; delete them. Savings are the "
    "rules' hourly price x 730 (data processed is not included).",
    resource_kinds=(LOAD_BALANCER,),
    permissions=(common.GRAPH_READ, common.LB_READ),
    settings=LbSettings,
)


def evaluate(snapshot: Snapshot, settings: LbSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for lb in snapshot.of_kind(LOAD_BALANCER):
        rules = shared.as_int(lb.attr("rules"))
        if lb.attr("sku") != "Standard" or shared.as_int(lb.attr("backendTargets")) > 0 or rules == 0:
            continue
        usage = [Usage(sku="azure.lb", region=lb.region)]
        if rules > INCLUDED_RULES:
            usage.append(Usage(sku="azure.lb.rule", region=lb.region, quantity=rules - INCLUDED_RULES))
        findings.append(
            shared.build_finding(
                SPEC,
                lb,
                action=Action.DELETE,
                title=f"Delete Azure load balancer {shared.label(lb)}: {rules} rule(s), no backends",
                confidence=Confidence.HIGH,
                current={"sku": "Standard", "rules": rules, "backendTargets": 0},
                proposed={"state": "deleted"},
                evidence=shared.evidence(
                    settings,
                    None,
                    backendPools=shared.as_int(lb.attr("backendPools")),
                    frontendIps=shared.as_int(lb.attr("frontendIps")),
                    note="Its frontend public IPs stay billed until deleted too.",
                ),
                current_usage=usage,
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

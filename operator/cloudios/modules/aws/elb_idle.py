"""aws.elb.idle: application and network load balancers that serve no traffic; proposes deletion.

A balancer with zero registered targets is reported at high confidence without needing days of
data (unless created less than a day ago: set-up in progress), provided its request counts show
no traffic (an ALB answering with redirect or fixed-response rules needs no targets). Otherwise
it is idle when requests (ALB) or new flows (NLB) stay below ``requestsPerDayThreshold`` on every
day over at least ``minDays`` days. CloudWatch publishes no datapoint for a period without
requests, so days without a datapoint in the balancer's lifetime count as zero; when the whole
window has no datapoint at all, the finding is capped at medium (no traffic and missing
collection look the same).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot, Usage
from cloudios.domain.resource import ELB
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.base import MetricNeed, Module, ModuleSpec

IDLE_TYPES = ("application", "network")


class ElbIdleSettings(common.AwsSettings):
    """Thresholds of aws.elb.idle."""

    min_days: int = common.min_days_field()
    requests_per_day_threshold: int = Field(
        default=100,
        ge=1,
        description="Requests (ALB) or new flows (NLB) per day; every day must stay below this.",
    )


SPEC = ModuleSpec(
    name="aws.elb.idle",
    provider=Provider.AWS,
    category=Category.IDLE,
    summary="Application and network load balancers with no registered targets, or with fewer "
    "than requestsPerDayThreshold requests on every day of the window; delete them. Savings are "
    "the hourly charge (LCU charges not included).",
    resource_kinds=(ELB,),
    metrics=(MetricNeed(ELB, Metric.REQUEST_COUNT),),
    min_days=7,
    permissions=(
        "elasticloadbalancing:DescribeLoadBalancers",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeTargetHealth",
        common.CLOUDWATCH_READ,
    ),
    settings=ElbIdleSettings,
)


def evaluate(snapshot: Snapshot, settings: ElbIdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for balancer in snapshot.of_kind(ELB):
        lb_type = balancer.attr("type")
        if lb_type not in IDLE_TYPES or balancer.attr("state", "active") != "active":
            continue
        requests = snapshot.metric(balancer.id, Metric.REQUEST_COUNT)
        daily = common.totals_by_day(requests)
        days = common.observed_days(balancer, snapshot, len(daily), "createdTime")
        age = common.age_days(common.created_at(balancer, "createdTime"), snapshot.collected_at)
        targets = balancer.attr("registeredTargets")
        busiest = max(daily.values(), default=0.0)
        if busiest >= settings.requests_per_day_threshold:
            continue  # serving traffic: ALB redirect or fixed-response rules need no targets
        level: Confidence | None
        if targets is not None and common.as_int(targets) == 0 and (age is None or age >= 1):
            level, reason = Confidence.HIGH, "no registered targets"
        else:
            level = conf.for_days(days, settings.min_days)
            if level is None:
                continue
            reason = f"at most {busiest:.0f} requests per day"
            if not daily:
                level = conf.cap(level, Confidence.MEDIUM)
        findings.append(
            common.build_finding(
                SPEC,
                balancer,
                action=Action.DELETE,
                title=f"Delete idle {lb_type} load balancer {common.label(balancer)} ({reason})",
                confidence=level,
                current={"type": lb_type, "registeredTargets": targets},
                proposed={"state": "deleted"},
                evidence=common.evidence(
                    settings,
                    days,
                    (requests,),
                    reason=reason,
                    registeredTargets=targets,
                    targetGroups=balancer.attr("targetGroups"),
                    daysWithDatapoints=len(daily),
                    missingDaysCountAsZero=True,
                    note="Savings cover the hourly charge; LCU usage charges are not included.",
                ),
                current_usage=[Usage(sku="elb", region=balancer.region, attributes={"type": lb_type})],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""aws.nat.idle: NAT gateways that move (almost) no bytes; proposes deleting them.

Idle when bytes out to and in from destinations together stay below ``bytesPerDayThreshold`` on
every day over at least ``minDays`` days. Days without a datapoint within the gateway's lifetime
count as zero; a window without any datapoint is capped at medium confidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Metric, Provider, Snapshot, Usage
from cloudios.domain.resource import NAT_GATEWAY
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.base import MetricNeed, Module, ModuleSpec


class NatIdleSettings(common.AwsSettings):
    """Thresholds of aws.nat.idle."""

    min_days: int = common.min_days_field()
    bytes_per_day_threshold: int = Field(
        default=1_000_000,
        ge=1,
        description="Bytes out to plus in from destinations per day; every day must stay below this (1 MB).",
    )


SPEC = ModuleSpec(
    name="aws.nat.idle",
    provider=Provider.AWS,
    category=Category.IDLE,
    summary="Available NAT gateways moving fewer than bytesPerDayThreshold bytes on every day of "
    "the window; delete them. Savings are the hourly charge (data processing not included).",
    resource_kinds=(NAT_GATEWAY,),
    metrics=(
        MetricNeed(NAT_GATEWAY, Metric.NAT_BYTES_OUT),
        MetricNeed(NAT_GATEWAY, Metric.NAT_BYTES_IN),
    ),
    min_days=7,
    permissions=("ec2:DescribeNatGateways", common.CLOUDWATCH_READ),
    settings=NatIdleSettings,
)


def evaluate(snapshot: Snapshot, settings: NatIdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for gateway in snapshot.of_kind(NAT_GATEWAY):
        if gateway.attr("state") != "available":
            continue
        out = snapshot.metric(gateway.id, Metric.NAT_BYTES_OUT)
        back = snapshot.metric(gateway.id, Metric.NAT_BYTES_IN)
        daily = common.totals_by_day(out, back)
        days = common.observed_days(gateway, snapshot, len(daily), "createTime")
        level = conf.for_days(days, settings.min_days)
        busiest = max(daily.values(), default=0.0)
        if level is None or busiest >= settings.bytes_per_day_threshold:
            continue
        if not daily:
            level = conf.cap(level, Confidence.MEDIUM)
        findings.append(
            common.build_finding(
                SPEC,
                gateway,
                action=Action.DELETE,
                title=f"Delete idle NAT gateway {common.label(gateway)} "
                f"(at most {busiest:.0f} bytes per day)",
                confidence=level,
                current={"state": "available", "connectivityType": gateway.attr("connectivityType")},
                proposed={"state": "deleted"},
                evidence=common.evidence(
                    settings,
                    days,
                    (out, back),
                    maxBytesPerDay=round(busiest),
                    daysWithDatapoints=len(daily),
                    missingDaysCountAsZero=True,
                    vpcId=gateway.attr("vpcId"),
                    note="Check route tables first: routes to a deleted gateway black-hole "
                    "traffic. Savings cover the hourly charge only.",
                ),
                current_usage=[Usage(sku="nat.gateway", region=gateway.region)],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

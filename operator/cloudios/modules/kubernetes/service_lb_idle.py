"""k8s.service.lb_idle: LoadBalancer Services with no ready endpoint for days; the balancer still bills.

A Service of type LoadBalancer is reported when it has no ready endpoint now and ingest's history
says it has had none since at least minUnreadyDays ago (history starts with the agent's first
report). Savings: the cloud load balancer's hourly list price x 730 (AWS: a Network Load Balancer,
a lower bound for the in-tree Classic ELB; data and LCU charges not included; GCP forwarding rules
are not in the GCP book, so those findings are unpriced with that reason).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Finding, Provider, Snapshot, Usage
from cloudios.domain import kubernetes as k8s
from cloudios.modules import confidence as conf
from cloudios.modules.base import Module, ModuleSpec
from cloudios.modules.kubernetes import _common as common


class LbIdleSettings(common.CamelSettings):
    """Thresholds of k8s.service.lb_idle."""

    min_unready_days: int = Field(
        default=7, ge=1, le=365, description="Days without a ready endpoint before a Service is reported."
    )


SPEC = ModuleSpec(
    name="k8s.service.lb_idle",
    provider=Provider.KUBERNETES,
    category=Category.IDLE,
    summary="LoadBalancer Services with no ready endpoint for minUnreadyDays days; delete the Service (or "
    "change its type). Savings are the cloud load balancer's hourly price.",
    resource_kinds=(k8s.K8S_LOAD_BALANCER,),
    permissions=(common.SERVICES, common.ENDPOINT_SLICES),
    settings=LbIdleSettings,
)


def evaluate(snapshot: Snapshot, settings: LbIdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for service in snapshot.of_kind(k8s.K8S_LOAD_BALANCER):
        since = common.as_datetime(service.attr("unreadySince"))
        if common.as_int(service.attr("readyEndpoints")) > 0 or since is None:
            continue
        days = (snapshot.collected_at - since).total_seconds() / 86400
        level = conf.for_days(math.floor(days), settings.min_unready_days)
        if level is None:
            continue
        namespace = str(service.attr("namespace"))
        findings.append(
            common.build_finding(
                SPEC,
                service,
                action=Action.DELETE,
                title=f"Delete LoadBalancer Service {namespace}/{service.name}: no ready endpoint for "
                f"{math.floor(days)} days",
                confidence=level,
                current={"type": "LoadBalancer", "readyEndpoints": 0},
                proposed={
                    "state": "deleted, or type ClusterIP if something inside the cluster still uses it",
                    "command": common.kubectl("delete", "service", str(service.name), namespace),
                },
                evidence=common.evidence(
                    settings, None, unreadySince=since.isoformat(), unreadyDays=round(days, 1)
                ),
                current_usage=[
                    Usage(
                        sku=k8s.LOAD_BALANCER,
                        region=service.region,
                        attributes={"cloud": str(service.attr("cloud") or "")},
                    )
                ],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

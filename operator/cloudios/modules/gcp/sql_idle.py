"""gcp.sql.idle: Cloud SQL instances without connections over the window; proposes stopping them."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Finding, Metric, Provider, Snapshot, Usage
from cloudios.domain.gcp import SQL_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.base import MetricNeed, Module, ModuleSpec
from cloudios.modules.gcp import _common as common


class SqlIdleSettings(common.GcpSettings):
    """Thresholds of gcp.sql.idle."""

    min_days: int = common.min_days_field()
    max_connections: float = Field(
        default=1.0, gt=0, description="Every daily maximum of open connections must stay below this."
    )


SPEC = ModuleSpec(
    name="gcp.sql.idle",
    provider=Provider.GCP,
    category=Category.IDLE,
    summary="Running Cloud SQL instances whose daily maximum of connections stays below "
    "maxConnections; stop them (activation policy NEVER) or delete them after a final backup.",
    resource_kinds=(SQL_INSTANCE,),
    metrics=(
        MetricNeed(SQL_INSTANCE, Metric.DB_CONNECTIONS),
        MetricNeed(SQL_INSTANCE, Metric.CPU_UTILIZATION),
    ),
    min_days=7,
    permissions=("cloudsql.instances.list", common.MONITORING_READ),
    settings=SqlIdleSettings,
)


def evaluate(snapshot: Snapshot, settings: SqlIdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for db in snapshot.of_kind(SQL_INSTANCE):
        if db.attr("state") != "RUNNABLE" or db.attr("activationPolicy", "ALWAYS") != "ALWAYS":
            continue
        connections = snapshot.metric(db.id, Metric.DB_CONNECTIONS)
        level = conf.for_days(connections.days_with_data, settings.min_days)
        if level is None:
            continue
        peak = max(d.maximum for d in common.days_with_data(connections))
        if peak >= settings.max_connections:
            continue
        cpu = snapshot.metric(db.id, Metric.CPU_UTILIZATION)
        tier = str(db.attr("tier") or "")
        findings.append(
            common.build_finding(
                SPEC,
                db,
                action=Action.STOP,
                title=f"Stop idle Cloud SQL instance {db.name or db.id} ({tier})",
                confidence=level,
                current={
                    "tier": tier,
                    "activationPolicy": "ALWAYS",
                    "availabilityType": db.attr("availabilityType"),
                },
                proposed={"activationPolicy": "NEVER"},
                evidence=common.evidence(
                    settings, connections.days_with_data, (connections, cpu), peakConnections=peak
                ),
                current_usage=[
                    Usage(
                        sku="cloudsql.instance",
                        region=db.region,
                        attributes={
                            "tier": tier,
                            "availabilityType": str(db.attr("availabilityType") or "ZONAL"),
                        },
                    )
                ],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

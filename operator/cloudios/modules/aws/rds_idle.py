"""aws.rds.idle: RDS instances nobody connects to; proposes stopping them.

Idle when the daily maximum of DatabaseConnections stays below ``maxConnections`` on every day
over at least ``minDays`` days. Aurora instances are skipped (Aurora stops whole clusters).
Savings are the instance hours; storage stays billed while stopped, and RDS starts a stopped
instance again after 7 days, so long-unused databases are better snapshotted and deleted.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Finding, Metric, Provider, Snapshot, Usage
from cloudios.domain.resource import RDS_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.base import MetricNeed, Module, ModuleSpec


class RdsIdleSettings(common.AwsSettings):
    """Thresholds of aws.rds.idle."""

    min_days: int = common.min_days_field()
    max_connections: int = Field(
        default=1,
        ge=1,
        description="The daily maximum of DatabaseConnections must stay below this on every day "
        "(1 = no connection at all).",
    )


SPEC = ModuleSpec(
    name="aws.rds.idle",
    provider=Provider.AWS,
    category=Category.IDLE,
    summary="RDS DB instances whose daily maximum connections stay below maxConnections over "
    "the window; stop them (or snapshot and delete). Savings are instance hours; storage stays "
    "billed.",
    resource_kinds=(RDS_INSTANCE,),
    metrics=(MetricNeed(RDS_INSTANCE, Metric.DB_CONNECTIONS),),
    min_days=7,
    permissions=("rds:DescribeDBInstances", common.CLOUDWATCH_READ),
    settings=RdsIdleSettings,
)


def evaluate(snapshot: Snapshot, settings: RdsIdleSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for db in snapshot.of_kind(RDS_INSTANCE):
        engine = str(db.attr("engine") or "")
        db_class = str(db.attr("dbInstanceClass") or "")
        if db.attr("status") != "available" or engine.startswith("aurora") or not db_class:
            continue
        connections = snapshot.metric(db.id, Metric.DB_CONNECTIONS)
        level = conf.for_days(connections.days_with_data, settings.min_days)
        if level is None or connections.maximum >= settings.max_connections:
            continue
        multi_az = common.as_bool(db.attr("multiAz"))
        findings.append(
            common.build_finding(
                SPEC,
                db,
                action=Action.STOP,
                title=f"Stop idle RDS instance {common.label(db)} ({db_class}, {engine})",
                confidence=level,
                current={"dbInstanceClass": db_class, "engine": engine, "multiAz": multi_az},
                proposed={"status": "stopped"},
                evidence=common.evidence(
                    settings,
                    connections.days_with_data,
                    (connections,),
                    maxConnections=connections.maximum,
                    storageStillBilled=True,
                    allocatedStorageGb=db.attr("allocatedStorageGb"),
                    note="Stopping ends instance charges only: storage and backups stay billed. "
                    "RDS restarts a stopped instance after 7 days; for longer, snapshot and "
                    "delete.",
                ),
                current_usage=[
                    Usage(
                        sku="rds.instance",
                        region=db.region,
                        attributes={
                            "dbInstanceClass": db_class,
                            "engine": engine,
                            "multiAz": str(multi_az).lower(),
                        },
                    )
                ],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

"""aws.rds.rightsize: RDS instances with low CPU and ample free memory; proposes one size down.

CPU, peak-aware as aws.ec2.rightsize: the need is the ``percentile``-th percentile across days of
the daily high CPU percentile (p99 where fetched, else the daily maximum) plus ``headroom``, and the
recurring daily peak (the daily maximum reached on ``recurringPeakDays`` days) must fit 100% of the
new vCPUs unless ``allowBatchSlowdown``. Memory must be measured: FreeableMemory (MemAvailable of
the DB host) on at least ``minDays`` days; memory in use is the class memory minus the window's
lowest FreeableMemory, and the smaller class must hold it plus ``headroom``. Without that data there
is no finding: a database's memory cannot be assumed. For MySQL, MariaDB and PostgreSQL the peak of
DatabaseConnections must also fit the smaller class's default max_connections (MySQL/MariaDB:
memory / 12,582,880 bytes; PostgreSQL: memory / 9,531,392 bytes, at most 5,000); a custom parameter
group may set other limits, as the evidence notes.

The proposal is exactly one size down in the same family (db.r5.2xlarge -> db.r5.xlarge), among the
sizes RDS sells. Burstable classes (db.t*) are skipped (CPU credits, not vCPUs, decide). Savings
are engine-aware and double for Multi-AZ (the standby is resized too); where the book has no price
for the engine or class the finding is published unpriced with the reason. Dedupe: stopping an idle
database (aws.rds.idle) wins; this finding wins over aws.rds.previous_generation on the same
instance. Caches sized from the class memory (InnoDB buffer pool, shared_buffers) shrink with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from cloudios.domain import Action, Category, Finding, Metric, MetricSummary, Provider, Snapshot
from cloudios.domain.resource import RDS_INSTANCE
from cloudios.modules import confidence as conf
from cloudios.modules.aws import _common as common
from cloudios.modules.aws import catalog, rds_classes
from cloudios.modules.base import MetricNeed, Module, ModuleSpec

GIB = 1024**3
# Bytes of class memory per connection in RDS's default max_connections formula, per engine.
BYTES_PER_CONNECTION = {"mysql": 12_582_880, "mariadb": 12_582_880, "postgres": 9_531_392}
POSTGRES_MAX_CONNECTIONS = 5000


class RdsRightsizeSettings(common.AwsSettings):
    """Thresholds of aws.rds.rightsize."""

    min_days: int = common.min_days_field()
    percentile: float = Field(
        default=95.0,
        gt=0,
        le=100,
        description="Percentile across days of the daily high CPU percentile (p99 where fetched, else "
        "the daily maximum) taken as the CPU need.",
    )
    recurring_peak_days: int = Field(
        default=3,
        ge=1,
        le=90,
        description="Days on which a daily CPU maximum must recur to count as a recurring peak (a "
        "nightly batch); the smaller class must hold it at 100% or less.",
    )
    allow_batch_slowdown: bool = Field(
        default=False,
        description="Allow a class on which the recurring daily peak would exceed 100% of the vCPUs.",
    )
    headroom: float = Field(
        default=0.2,
        ge=0,
        le=2,
        description="Spare capacity added to the CPU need and to the memory in use, as a fraction "
        "(0.2 = 20%).",
    )


SPEC = ModuleSpec(
    name="aws.rds.rightsize",
    provider=Provider.AWS,
    category=Category.RIGHTSIZE,
    summary="Available RDS DB instances whose CPU need (a percentile of daily p99 plus headroom), "
    "recurring daily peak, memory in use (class memory minus the lowest FreeableMemory, plus "
    "headroom) and peak connections fit one size down in the same class family; Multi-AZ savings "
    "double. Burstable db.t* classes are skipped.",
    resource_kinds=(RDS_INSTANCE,),
    metrics=(
        MetricNeed(RDS_INSTANCE, Metric.CPU_UTILIZATION),
        MetricNeed(RDS_INSTANCE, Metric.MEMORY_AVAILABLE_BYTES),
        MetricNeed(RDS_INSTANCE, Metric.DB_CONNECTIONS),
    ),
    min_days=7,
    permissions=("rds:DescribeDBInstances", common.CLOUDWATCH_READ),
    settings=RdsRightsizeSettings,
)


def one_size_down(current: catalog.InstanceType) -> catalog.InstanceType | None:
    """The next smaller size RDS sells in the class's family."""
    smaller = [t for t in rds_classes.family(current.family) if t.vcpu < current.vcpu]
    return smaller[-1] if smaller else None


def default_max_connections(engine: str, memory_gib: float) -> int | None:
    """RDS's default max_connections for a class of ``memory_gib`` (None: engine not modelled)."""
    per = BYTES_PER_CONNECTION.get(engine)
    if per is None:
        return None
    limit = int(memory_gib * GIB // per)
    return min(limit, POSTGRES_MAX_CONNECTIONS) if engine == "postgres" else limit


def _memory_used_gib(current: catalog.InstanceType, free: MetricSummary) -> float:
    least = min(d.average if d.minimum is None else d.minimum for d in common.days_with_data(free))
    return max(0.0, current.memory_gib - least / GIB)


def _fit(
    current: catalog.InstanceType,
    target: catalog.InstanceType,
    metrics: tuple[MetricSummary, MetricSummary, MetricSummary],
    engine: str,
    settings: RdsRightsizeSettings,
) -> dict[str, object] | None:
    """The sizing evidence when ``target`` holds CPU, recurring peak, memory and connections."""
    cpu, free, connections = metrics
    need_pct = cpu.percentile_of_daily(settings.percentile, "high")
    maxima = [d.maximum for d in common.days_with_data(cpu)]
    peak_pct = common.recurring_peak(maxima, settings.recurring_peak_days)
    used_gib = _memory_used_gib(current, free)
    limit = default_max_connections(engine, target.memory_gib)
    peak_connections = connections.maximum if connections.days_with_data else None
    if (
        current.vcpu * need_pct / 100 * (1 + settings.headroom) > target.vcpu
        or (not settings.allow_batch_slowdown and current.vcpu * peak_pct / 100 > target.vcpu)
        or used_gib * (1 + settings.headroom) > target.memory_gib
        or (limit is not None and peak_connections is not None and peak_connections > limit)
    ):
        return None
    ratio = current.vcpu / target.vcpu
    return {
        "cpuNeedPercent": round(need_pct, 4),
        "projectedCpuPercent": round(need_pct * ratio, 4),
        "recurringDailyPeakPercent": round(peak_pct, 4),
        "projectedRecurringPeakPercent": round(peak_pct * ratio, 4),
        "memoryUsedGib": round(used_gib, 3),
        "projectedMemoryPercent": round(used_gib / target.memory_gib * 100, 2),
        "peakConnections": peak_connections,
        "defaultMaxConnectionsAfter": limit,
    }


def evaluate(snapshot: Snapshot, settings: RdsRightsizeSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for db in snapshot.of_kind(RDS_INSTANCE):
        engine = str(db.attr("engine") or "")
        current = rds_classes.describe(str(db.attr("dbInstanceClass") or ""))
        if db.attr("status") != "available" or current is None or current.burstable:
            continue
        target = one_size_down(current)
        cpu = snapshot.metric(db.id, Metric.CPU_UTILIZATION)
        free = snapshot.metric(db.id, Metric.MEMORY_AVAILABLE_BYTES)
        connections = snapshot.metric(db.id, Metric.DB_CONNECTIONS)
        level = conf.for_days(cpu.days_with_data, settings.min_days)
        if target is None or level is None or free.days_with_data < settings.min_days:
            continue
        sizing = _fit(current, target, (cpu, free, connections), engine, settings)
        if sizing is None:
            continue
        multi_az = common.as_bool(db.attr("multiAz"))
        findings.append(
            common.build_finding(
                SPEC,
                db,
                action=Action.RESIZE,
                title=f"Resize RDS instance {common.label(db)} ({engine}) from "
                f"{rds_classes.name(current)} to {rds_classes.name(target)}",
                confidence=level,
                current={**rds_classes.shape(current), "engine": engine, "multiAz": multi_az},
                proposed={**rds_classes.shape(target), "engine": engine, "multiAz": multi_az},
                evidence=common.evidence(
                    settings,
                    cpu.days_with_data,
                    (cpu, free, connections),
                    **sizing,
                    multiAz=multi_az,
                    note="Memory in use = class memory - lowest FreeableMemory. Engine caches sized "
                    "from class memory shrink with it; a custom parameter group may set other "
                    "connection limits. Multi-AZ resizes the standby too.",
                ),
                current_usage=[common.rds_usage(db, rds_classes.name(current))],
                proposed_usage=[common.rds_usage(db, rds_classes.name(target))],
            )
        )
    return findings


MODULE = Module(SPEC, evaluate)

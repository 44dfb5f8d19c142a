"""The sample estate's databases: RDS instances, manual DB and cluster snapshots, series, labels.

Every DB instance reports CPUUtilization, DatabaseConnections and FreeableMemory (RDS always
publishes them). Snapshot creation times are backdated in moto's in-process backend, like EC2's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

from cloudios.domain.resource import RDS_INSTANCE, RDS_SNAPSHOT
from cloudios.emulators.aws import series as ts
from cloudios.emulators.aws.truth import (
    OLD_SNAPSHOT_DAYS,
    RDS_IDLE,
    RDS_PREVGEN,
    RDS_RIGHTSIZE,
    RDS_SNAP_OLD,
    EstateTruth,
)

THIN_DAYS = 3
PASSWORD = "emulator-only-password"  # noqa: S105 - moto accepts anything


class DbFleet(NamedTuple):
    """A group of sample DB instances that behave alike."""

    profile: str
    classes: tuple[tuple[str, float], ...]  # (DB instance class, memory GiB), cycled through
    engine: str
    cpu: ts.Hourly
    free: tuple[float, float]  # FreeableMemory as a fraction of the class memory
    connections: ts.Hourly
    expected: str | None
    per_region: int  # at scale 1
    multi_az: bool = False
    days: int | None = None  # days of metrics (None: the whole window)


R5_2XL, M5_2XL = ("db.r5.2xlarge", 64), ("db.m5.2xlarge", 32)
DB_FLEETS = (
    DbFleet("busy", (("db.m5.large", 8),), "postgres", ts.cpu_healthy, (0.35, 0.5), ts.rate(5, 60), None, 1),
    DbFleet("idle", (("db.m5.large", 8),), "postgres", ts.cpu_idle, (0.6, 0.7), ts.rate(0, 0), RDS_IDLE, 1),
    DbFleet(
        "oversized-db",
        (R5_2XL, M5_2XL),
        "postgres",
        ts.cpu_oversized,
        (0.7, 0.8),
        ts.rate(10, 40),
        RDS_RIGHTSIZE,
        2,
        multi_az=True,
    ),
    DbFleet("memory-bound-db", (R5_2XL,), "mysql", ts.cpu_oversized, (0.05, 0.1), ts.rate(10, 40), None, 1),
    DbFleet("batch-db", (M5_2XL,), "postgres", ts.cpu_daily_batch, (0.7, 0.8), ts.rate(5, 30), None, 1),
    DbFleet(
        "prevgen-db",
        (("db.m4.large", 8), ("db.t2.medium", 4)),
        "postgres",
        ts.cpu_healthy,
        (0.4, 0.5),
        ts.rate(5, 60),
        RDS_PREVGEN,
        2,
    ),
    DbFleet(
        "thin-db",
        (R5_2XL,),
        "postgres",
        ts.cpu_oversized,
        (0.7, 0.8),
        ts.rate(10, 40),
        None,
        1,
        days=THIN_DAYS,
    ),
)
# Manual snapshots per scale unit: (profile, age in days, of: "busy" | "deleted" | "cluster").
SNAPSHOT_PLAN = (
    ("db-snap-200d", 200, "busy"),
    ("db-snap-20d", 20, "busy"),
    ("db-snap-gone-120d", 120, "deleted"),
)
CLUSTER_PLAN = (("cluster-snap-150d", 150),)


class Region(Protocol):
    """What the databases need of the region being seeded (sample_estate's _Region)."""

    rds: Any
    region: str
    rng: random.Random
    truth: EstateTruth
    series: list[ts.Series]

    def count(self, n: int) -> int: ...

    def label(self, rid: str, kind: str, expected: str | None, profile: str) -> None: ...


@dataclass
class Databases:
    """Seeds one region's databases and remembers the snapshot ages to backdate."""

    region: Region
    snapshot_age: dict[str, int] = field(default_factory=dict)
    cluster_snapshot_age: dict[str, int] = field(default_factory=dict)
    _busy: list[str] = field(default_factory=list)
    _profiles: dict[str, str] = field(default_factory=dict)  # snapshot ARN -> profile

    def seed(self) -> None:
        for fleet in DB_FLEETS:
            for k in range(self.region.count(fleet.per_region)):
                db_class, memory_gib = fleet.classes[k % len(fleet.classes)]
                ident = f"{fleet.profile}-{self.region.region}-{k + 1}"
                self._create(ident, db_class, fleet.engine, multi_az=fleet.multi_az)
                self.region.label(ident, RDS_INSTANCE, fleet.expected, fleet.profile)
                low, high = fleet.free
                metrics = (
                    ("CPUUtilization", fleet.cpu),
                    ("DatabaseConnections", fleet.connections),
                    ("FreeableMemory", ts.rate(low * memory_gib * ts.GIB, high * memory_gib * ts.GIB)),
                )
                for name, hourly in metrics:
                    self.region.series.append(
                        ts.Series("AWS/RDS", name, "DBInstanceIdentifier", ident, hourly, fleet.days)
                    )
                if fleet.profile == "busy":
                    self._busy.append(ident)
        self.snapshots()

    def _create(self, ident: str, db_class: str, engine: str, *, multi_az: bool = False) -> None:
        self.region.rds.create_db_instance(
            DBInstanceIdentifier=ident,
            DBInstanceClass=db_class,
            Engine=engine,
            AllocatedStorage=100,
            MultiAZ=multi_az,
            MasterUsername="cloudios",
            MasterUserPassword=PASSWORD,
        )

    def snapshots(self) -> None:
        rds, where = self.region.rds, self.region.region
        for k in range(self.region.count(1)):
            for profile, age, source in SNAPSHOT_PLAN:
                ident = f"{profile}-{where}-{k + 1}"
                db = self._busy[k % len(self._busy)]
                if source == "deleted":
                    db = f"retired-{where}-{k + 1}"
                    self._create(db, "db.m5.large", "postgres")
                arn = rds.create_db_snapshot(DBInstanceIdentifier=db, DBSnapshotIdentifier=ident)[
                    "DBSnapshot"
                ]["DBSnapshotArn"]
                if source == "deleted":
                    rds.delete_db_instance(DBInstanceIdentifier=db, SkipFinalSnapshot=True)
                self.snapshot_age[ident] = age
                self._profiles[arn] = profile
            cluster = f"aurora-{where}-{k + 1}"
            rds.create_db_cluster(
                DBClusterIdentifier=cluster,
                Engine="aurora-postgresql",
                MasterUsername="cloudios",
                MasterUserPassword=PASSWORD,
            )
            for profile, age in CLUSTER_PLAN:
                ident = f"{profile}-{where}-{k + 1}"
                arn = rds.create_db_cluster_snapshot(
                    DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=ident
                )["DBClusterSnapshot"]["DBClusterSnapshotArn"]
                self.cluster_snapshot_age[ident] = age
                self._profiles[arn] = profile

    def backdate(self, account_id: str, now: datetime) -> None:
        """Move snapshot creation times into the past in moto's in-process RDS backend."""
        from moto.rds.models import rds_backends  # noqa: PLC0415 - only with an in-process moto

        backend = rds_backends[account_id][self.region.region]
        naive = now.replace(tzinfo=None)  # moto keeps naive UTC datetimes
        for ident, age in self.snapshot_age.items():
            backend.database_snapshots[ident].created = naive - timedelta(days=age)
        for ident, age in self.cluster_snapshot_age.items():
            backend.cluster_snapshots[ident].created = naive - timedelta(days=age)

    def label_snapshots(self, now: datetime) -> None:
        """Manual snapshots are labelled from the creation time the API now reports."""
        rds = self.region.rds
        found = [
            (s["DBSnapshotArn"], s["SnapshotCreateTime"])
            for s in rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
        ] + [
            (s["DBClusterSnapshotArn"], s["SnapshotCreateTime"])
            for s in rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
        ]
        for arn, created in found:
            age = (now - created.astimezone(UTC)).days
            expected = RDS_SNAP_OLD if age > OLD_SNAPSHOT_DAYS else None
            self.region.label(arn, RDS_SNAPSHOT, expected, self._profiles.get(arn, f"{age}d"))

"""A seeded sample estate for one project, with the finding each resource should get.

Profiles (module defaults decide what a careful FinOps engineer expects):
instances idle (CPU < 2 %, tiny network) -> gcp.compute.idle; oversized (daily peaks 10-30 % on
8+ vCPUs, predefined or custom) -> gcp.compute.rightsize; busy, nightly batch at 90 %, bursty
(peaks on a third of the days), thin (3 days of data), stopped -> nothing; disks unattached for
weeks -> gcp.disk.unattached, detached two days ago or attached -> nothing; reserved external
addresses -> gcp.address.unused, in use or internal -> nothing; snapshots older than 90 days ->
gcp.snapshot.old; Cloud SQL without connections -> gcp.sql.idle, busy -> nothing.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cloudios.domain.gcp import GCE_ADDRESS, GCE_DISK, GCE_INSTANCE, GCE_SNAPSHOT, SQL_INSTANCE
from cloudios.emulators.gcp.estate import Estate, EstateResource, Generator

REGIONS = ("europe-west1", "us-central1")
OLD_SNAPSHOT_DAYS = 90
MODULE_OF_TRUTH = {
    (GCE_INSTANCE, "idle"): "gcp.compute.idle",
    (GCE_INSTANCE, "rightsize"): "gcp.compute.rightsize",
    (GCE_DISK, "orphaned"): "gcp.disk.unattached",
    (GCE_ADDRESS, "orphaned"): "gcp.address.unused",
    (GCE_SNAPSHOT, "orphaned"): "gcp.snapshot.old",
    ("cloudsql.instance", "idle"): "gcp.sql.idle",
}
OVERSIZED = (
    "n2-standard-8",
    "e2-standard-8",
    "n2-highmem-16",
    "n1-standard-16",
    "custom-8-32768",
    "n2-custom-16-65536",
)
SMALL = ("e2-standard-2", "e2-standard-4", "n2-standard-4", "n1-standard-2")
INSTANCE_MIX = (
    ("idle", 0.2),
    ("oversized", 0.2),
    ("busy", 0.2),
    ("batch", 0.12),
    ("bursty", 0.12),
    ("thin", 0.08),
    ("stopped", 0.08),
)


def expected(estate: Estate) -> dict[str, str | None]:
    """resource id -> the module expected to flag it (None: nothing)."""
    return {resource_id(estate, r): MODULE_OF_TRUTH.get((r.kind, r.truth)) for r in estate.resources}


def resource_id(estate: Estate, resource: EstateResource) -> str:
    """The id a scan reports: Cloud SQL instances are ``project:name``, others their numeric id."""
    return f"{estate.account}:{resource.name}" if resource.kind == SQL_INSTANCE else resource.id


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class _Builder:
    def __init__(self, seed: int, project: str, lookback_days: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
        self.project = project
        self.lookback = lookback_days
        self.now = datetime.now(UTC)
        self.next_id = 1_000_000 + self.rng.randrange(1_000_000) * 1000
        self.resources: list[EstateResource] = []

    def ident(self) -> str:
        self.next_id += 1
        return str(self.next_id)

    def ago(self, days: float) -> str:
        return _stamp(self.now - timedelta(days=days))

    def add(
        self,
        kind: str,
        name: str,
        region: str,
        truth: str = "none",
        metrics: dict[str, Generator] | None = None,
        **attrs: object,
    ) -> EstateResource:
        res = EstateResource.model_validate(
            {
                "kind": kind,
                "id": self.ident(),
                "name": name,
                "region": region,
                "attributes": attrs,
                "metrics": metrics or {},
                "truth": truth,
            }
        )
        self.resources.append(res)
        return res

    def profile(self) -> str:
        roll, total = self.rng.random(), 0.0
        for name, share in INSTANCE_MIX:
            total += share
            if roll < total:
                return name
        return INSTANCE_MIX[-1][0]

    def instance(self, index: int, region: str) -> EstateResource:
        profile = self.profile()
        zone = f"{region}-{self.rng.choice('bcd')}"
        rng = self.rng
        g = Generator.model_validate

        def net(level: float) -> dict[str, Generator]:
            return {
                "network_in_bytes": g({"pattern": "steady", "level": level}),
                "network_out_bytes": g({"pattern": "steady", "level": level / 2}),
            }

        machine, status, truth = rng.choice(SMALL), "RUNNING", "none"
        if profile == "idle":
            metrics = {
                "cpu_utilization": g({"pattern": "idle", "level": rng.uniform(0.002, 0.016)}),
                **net(rng.uniform(1e5, 1e6)),
            }
            machine, truth = rng.choice(SMALL + OVERSIZED), "idle"
        elif profile == "oversized":
            level = rng.uniform(0.04, 0.1)
            metrics = {
                "cpu_utilization": g({"pattern": "steady", "level": level, "peak": rng.uniform(0.12, 0.3)}),
                **net(rng.uniform(1e9, 5e9)),
            }
            machine, truth = rng.choice(OVERSIZED), "rightsize"
        elif profile == "busy":
            metrics = {
                "cpu_utilization": g({"pattern": "steady", "level": rng.uniform(0.45, 0.7), "peak": 0.9}),
                **net(rng.uniform(1e9, 9e9)),
            }
        elif profile == "batch":
            metrics = {
                "cpu_utilization": g({"pattern": "batch", "level": rng.uniform(0.02, 0.04), "peak": 0.9}),
                **net(rng.uniform(1e8, 1e9)),
            }
            machine = rng.choice(OVERSIZED)
        elif profile == "bursty":
            metrics = {
                "cpu_utilization": g({"pattern": "bursty", "level": rng.uniform(0.05, 0.1), "peak": 0.95}),
                **net(rng.uniform(1e8, 1e9)),
            }
            machine = rng.choice(OVERSIZED)
        elif profile == "thin":
            metrics = {"cpu_utilization": g({"pattern": "idle", "level": 0.01, "days": 3}), **net(1e5)}
        else:
            metrics, status = {}, "TERMINATED"
        created = self.ago(self.lookback + 30 if profile != "thin" else 3)
        return self.add(
            GCE_INSTANCE,
            f"vm-{profile}-{index}",
            region,
            truth,
            metrics,
            zone=zone,
            machineType=machine,
            status=status,
            creationTimestamp=created,
        )

    def build(self, scale: float) -> Estate:
        count = max(1, round(40 * scale))
        for i in range(count):
            region = REGIONS[i % len(REGIONS)]
            vm = self.instance(i, region)
            zone = str(vm.attributes["zone"])
            self.add(
                GCE_DISK,
                f"{vm.name}-boot",
                region,
                zone=zone,
                diskType="pd-balanced",
                sizeGb=20,
                users=[vm.name],
                status="READY",
                creationTimestamp=self.ago(60),
            )
        rng = self.rng
        for i in range(max(1, round(12 * scale))):
            region, old = REGIONS[i % 2], rng.random() < 0.7  # noqa: PLR2004
            detached = rng.uniform(10, 80) if old else rng.uniform(0.5, 2.5)
            self.add(
                GCE_DISK,
                f"disk-loose-{i}",
                region,
                "orphaned" if old else "none",
                zone=f"{region}-b",
                diskType=rng.choice(("pd-standard", "pd-balanced", "pd-ssd")),
                sizeGb=rng.choice((50, 100, 200, 500)),
                users=[],
                status="READY",
                creationTimestamp=self.ago(120),
                lastDetachTimestamp=self.ago(detached),
            )
        for i in range(max(1, round(8 * scale))):
            region, kind = REGIONS[i % 2], rng.choice(("reserved", "reserved", "in-use", "internal"))
            self.add(
                GCE_ADDRESS,
                f"ip-{kind}-{i}",
                region,
                "orphaned" if kind == "reserved" else "none",
                address=f"34.{i // 250}.{i % 250}.{rng.randrange(1, 250)}",
                addressType="INTERNAL" if kind == "internal" else "EXTERNAL",
                status="IN_USE" if kind == "in-use" else "RESERVED",
                users=["vm"] if kind == "in-use" else [],
                creationTimestamp=self.ago(40),
            )
        for i in range(max(1, round(8 * scale))):
            age = rng.choice((200.0, 150.0, 30.0, 10.0))
            self.add(
                GCE_SNAPSHOT,
                f"snap-{i}",
                "global",
                "orphaned" if age > OLD_SNAPSHOT_DAYS else "none",
                storageBytes=rng.randrange(1, 200) * 1024**3,
                diskSizeGb=200,
                storageLocations=["eu" if i % 2 else "us"],
                creationTimestamp=self.ago(age),
            )
        for i in range(max(1, round(4 * scale))):
            idle = rng.random() < 0.5  # noqa: PLR2004
            conns = g_conn = Generator.model_validate(
                {
                    "pattern": "steady",
                    "level": 0.0 if idle else rng.uniform(5, 40),
                    "peak": 0.0 if idle else 60,
                }
            )
            self.add(
                SQL_INSTANCE,
                f"db-{i}",
                REGIONS[i % 2],
                "idle" if idle else "none",
                {
                    "db_connections": g_conn,
                    "cpu_utilization": Generator.model_validate(
                        {"pattern": "steady", "level": 0.02 if idle else 0.3}
                    ),
                },
                tier="db-custom-2-7680",
                databaseVersion="POSTGRES_15",
                state="RUNNABLE",
                activationPolicy="ALWAYS",
                availabilityType="ZONAL",
                dataDiskSizeGb=100,
                dataDiskType="PD_SSD",
                createTime=self.ago(100),
            )
            del conns
        return Estate(
            provider="gcp", account=self.project, lookback_days=self.lookback, resources=self.resources
        )


def generate(
    *, seed: int, project: str = "cloudios-demo-123", scale: float = 1.0, lookback_days: int = 30
) -> Estate:
    """A sample estate of about 80 x scale resources in ``project``."""
    return _Builder(seed, project, lookback_days).build(scale)

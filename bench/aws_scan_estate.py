"""The AWS scan benchmark's estate: one emulated account in two regions, its instances, volumes and
daily CloudWatch statistics (seeded through PutMetricData or straight into the emulator's store).

Split from bench/aws_scan.py, which runs and reports the benchmark."""

from __future__ import annotations

import math
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
KEY_ID, SECRET = "cloudios-bench-key", "benchmark-only"
INSTANCE_METRICS = (("AWS/EC2", "CPUUtilization"), ("AWS/EC2", "NetworkIn"), ("AWS/EC2", "NetworkOut"))
VOLUME_METRICS = (("AWS/EBS", "VolumeReadOps"), ("AWS/EBS", "VolumeWriteOps"))


def scan_end() -> datetime:
    """Today's UTC midnight: the end of the seeded days and of both approaches' window."""
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def seed(url: str, instances: int, days: int, *, via_api: bool) -> dict[str, Any]:
    import boto3.session  # noqa: PLC0415

    from cloudios.emulators.aws.series import MetricWriter  # noqa: PLC0415

    began = time.perf_counter()
    rng = random.Random(42)
    end = scan_end()
    per_region = math.ceil(instances / len(REGIONS))
    series = 0
    for region in REGIONS:
        session = boto3.session.Session(
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=region
        )
        ec2 = session.client("ec2", endpoint_url=url)
        left = per_region
        while left:
            batch = min(100, left)
            ec2.run_instances(ImageId="ami-1e749f67", MinCount=batch, MaxCount=batch, InstanceType="m5.large")
            left -= batch
        ids = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        volumes = [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]]
        targets = [(ns, name, "InstanceId", i) for i in ids for ns, name in INSTANCE_METRICS]
        targets += [(ns, name, "VolumeId", v) for v in volumes for ns, name in VOLUME_METRICS]
        series += len(targets)
        writer = MetricWriter(session.client("cloudwatch", endpoint_url=url)) if via_api else None
        store = None if via_api else fast_store(region)
        for namespace, name, dim, value in targets:
            level = rng.uniform(0.5, 80.0) if name == "CPUUtilization" else rng.uniform(1e3, 1e8)
            for d in range(days):
                day = end - timedelta(days=days - d)
                low, high = level * rng.uniform(0.2, 0.9), level * rng.uniform(1.1, 1.25)
                total = level * 24 * rng.uniform(0.95, 1.05)
                if writer is not None:
                    writer.put_stats(
                        namespace, name, [(dim, value)], day, samples=24, total=total, low=low, high=high
                    )
                else:
                    assert store is not None
                    store(namespace, name, [{"Name": dim, "Value": value}], day, 24, total, low, high)
        if writer is not None:
            writer.flush()
    return {"series": series, "datums": series * days, "seconds": time.perf_counter() - began}


def fast_store(region: str) -> Any:
    from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends  # noqa: PLC0415

    backend = cloudwatch_backends[ACCOUNT][region]

    def put(  # noqa: PLR0917 - mirrors moto's positional datum constructor
        namespace: str,
        name: str,
        dims: list[dict[str, str]],
        day: datetime,
        n: int,
        total: float,
        low: float,
        high: float,
    ) -> None:
        datum = MetricAggregatedDatum(namespace, name, low, high, n, total, dims, day)
        backend.metric_data.append(datum)

    return put

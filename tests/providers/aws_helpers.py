"""Small seeding helpers shared by the AWS provider tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudios.domain import Metric
from cloudios.domain.resource import (
    EBS_SNAPSHOT,
    EBS_VOLUME,
    EC2_INSTANCE,
    EIP,
    ELB,
    NAT_GATEWAY,
    RDS_INSTANCE,
    RDS_SNAPSHOT,
)

ALL_KINDS = (EC2_INSTANCE, EBS_VOLUME, EBS_SNAPSHOT, EIP, ELB, RDS_INSTANCE, RDS_SNAPSHOT, NAT_GATEWAY)
EC2_METRICS = (
    (EC2_INSTANCE, Metric.CPU_UTILIZATION),
    (EC2_INSTANCE, Metric.NETWORK_IN_BYTES),
    (EC2_INSTANCE, Metric.NETWORK_OUT_BYTES),
)
# The attribute keys domain/resource.py documents for each kind: providers fill exactly these.
DOCUMENTED_KEYS = {
    EC2_INSTANCE: {
        "instanceType",
        "state",
        "platform",
        "launchTime",
        "architecture",
        "autoScalingGroup",
        "stoppedAt",
        "rootDeviceName",
    },
    EBS_VOLUME: {
        "volumeType",
        "sizeGb",
        "iops",
        "throughput",
        "state",
        "attachedTo",
        "device",
        "multiAttach",
        "createTime",
    },
    EBS_SNAPSHOT: {"sizeGb", "startTime", "volumeId", "description", "sourceVolumeExists", "usedByImage"},
    EIP: {"publicIp", "allocationId", "associationId", "instanceId", "networkInterfaceId"},
    ELB: {
        "type",
        "scheme",
        "state",
        "arnSuffix",
        "targetGroups",
        "registeredTargets",
        "healthyTargets",
        "targetInstances",
        "createdTime",
    },
    RDS_INSTANCE: {"dbInstanceClass", "engine", "multiAz", "allocatedStorageGb", "storageType", "status"},
    RDS_SNAPSHOT: {
        "identifier",
        "cluster",
        "snapshotType",
        "status",
        "engine",
        "allocatedStorageGb",
        "createTime",
        "sourceId",
        "sourceExists",
    },
    NAT_GATEWAY: {"state", "vpcId", "subnetId", "connectivityType"},
}


# The metric tests' scan end and two days inside its 7-day window [2026-03-03, 2026-03-10).
METRICS_END = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)
DAY1 = datetime(2026, 3, 4, tzinfo=UTC)
DAY3 = datetime(2026, 3, 6, tzinfo=UTC)

AMI = "ami-1e749f67"  # moto does not check image ids; its default AMIs are not loaded (faster)


def launch(ec2: Any, count: int = 1, instance_type: str = "m5.large", *, separate: bool = True) -> list[str]:
    """``count`` instances, each in its own reservation unless ``separate`` is False."""
    ami = AMI
    if not separate:
        found = ec2.run_instances(ImageId=ami, MinCount=count, MaxCount=count, InstanceType=instance_type)
        return [i["InstanceId"] for i in found["Instances"]]
    return [
        ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType=instance_type)["Instances"][0][
            "InstanceId"
        ]
        for _ in range(count)
    ]


def put_hourly(
    cw: Any,
    namespace: str,
    name: str,
    *,
    dimension: str,
    value: str,
    start: datetime,
    values: Sequence[float],
) -> None:
    """One raw datapoint per hour from ``start`` (values as a real agent would send them)."""
    data = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": dimension, "Value": value}],
            "Timestamp": start + timedelta(hours=h),
            "Value": v,
        }
        for h, v in enumerate(values)
    ]
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace=namespace, MetricData=data[i : i + 1000])

"""Inventory of one region: describe calls (all paginated) turned into domain Resources.

Attribute keys are exactly those documented in ``cloudios.domain.resource``. Account and region
come from the scan request, never from a response. Terminated instances and deleted NAT gateways
are left out: they cost nothing. RDS lives in ``databases``; where calls go, in ``scope``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cloudios.domain import Resource
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
from cloudios.providers.aws import databases
from cloudios.providers.aws.errors import translate
from cloudios.providers.aws.scope import RegionScope, or_none, utc
from cloudios.providers.aws.scope import tags as tag_dict

__all__ = ["IAM_PREFIX", "KNOWN_KINDS", "SERVICE_OF_KIND", "RegionScope", "region_tasks"]

# Which client each kind needs, and the IAM service prefix of its calls (for error messages).
SERVICE_OF_KIND: Mapping[str, str] = {
    EC2_INSTANCE: "ec2",
    EBS_VOLUME: "ec2",
    EBS_SNAPSHOT: "ec2",
    EIP: "ec2",
    NAT_GATEWAY: "ec2",
    ELB: "elbv2",
    RDS_INSTANCE: "rds",
    RDS_SNAPSHOT: "rds",
}
IAM_PREFIX: Mapping[str, str] = {
    "ec2": "ec2",
    "elbv2": "elasticloadbalancing",
    "rds": "rds",
    "cloudwatch": "cloudwatch",
    "sts": "sts",
}
_GONE_INSTANCE_STATES = frozenset({"terminated", "shutting-down"})
_GONE_NAT_STATES = frozenset({"deleted", "deleting", "failed"})


def instances(scope: RegionScope) -> list[Resource]:
    found = []
    for reservation in scope.pages("ec2", "describe_instances", "Reservations"):
        for inst in reservation.get("Instances", []):
            state = inst.get("State", {}).get("Name", "unknown")
            if state in _GONE_INSTANCE_STATES:
                continue
            tags = tag_dict(inst.get("Tags"))
            launched = utc(inst.get("LaunchTime"))
            found.append(
                scope.resource(
                    EC2_INSTANCE,
                    inst["InstanceId"],
                    name=tags.get("Name"),
                    tags=tags,
                    created_at=launched,
                    attributes={
                        "instanceType": inst.get("InstanceType"),
                        "state": state,
                        "platform": "windows" if inst.get("Platform") == "windows" else "linux",
                        "launchTime": launched,
                        "architecture": inst.get("Architecture"),
                        "autoScalingGroup": tags.get("aws:autoscaling:groupName"),
                        "stoppedAt": stopped_at(inst) if state == "stopped" else None,
                        "rootDeviceName": inst.get("RootDeviceName"),
                    },
                )
            )
    return found


_STOP_TIME = re.compile(r"\((\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?:GMT|UTC)\)")


def stopped_at(inst: Mapping[str, Any]) -> datetime | None:
    """When a stopped instance stopped: 'User initiated (2024-01-01 12:00:00 GMT)' -> a UTC time."""
    found = _STOP_TIME.search(str(inst.get("StateTransitionReason") or ""))
    if found is None:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def volumes(scope: RegionScope) -> list[Resource]:
    found = []
    for vol in scope.pages("ec2", "describe_volumes", "Volumes"):
        tags = tag_dict(vol.get("Tags"))
        attachments = vol.get("Attachments") or []
        created = utc(vol.get("CreateTime"))
        found.append(
            scope.resource(
                EBS_VOLUME,
                vol["VolumeId"],
                name=tags.get("Name"),
                tags=tags,
                created_at=created,
                attributes={
                    "volumeType": vol.get("VolumeType"),
                    "sizeGb": vol.get("Size"),
                    "iops": vol.get("Iops"),
                    "throughput": vol.get("Throughput"),
                    "state": vol.get("State"),
                    "attachedTo": or_none(attachments[0].get("InstanceId")) if attachments else None,
                    "device": or_none(attachments[0].get("Device")) if attachments else None,
                    "multiAttach": bool(vol.get("MultiAttachEnabled", False)),
                    "createTime": created,
                },
            )
        )
    return found


def snapshots(scope: RegionScope, volume_ids: set[str]) -> list[Resource]:
    """Snapshots this account owns; ``volume_ids`` are the region's existing volumes."""
    image_of: dict[str, str] = {}
    for image in scope.pages("ec2", "describe_images", "Images", Owners=["self"]):
        if image.get("OwnerId", scope.account_id) != scope.account_id:
            continue
        for mapping in image.get("BlockDeviceMappings", []):
            snap = mapping.get("Ebs", {}).get("SnapshotId")
            if snap:
                image_of.setdefault(snap, image["ImageId"])
    found = []
    owned = [{"Name": "owner-id", "Values": [scope.account_id]}]
    for snap in scope.pages("ec2", "describe_snapshots", "Snapshots", OwnerIds=["self"], Filters=owned):
        # The owner-id filter repeats OwnerIds for emulators that ignore it (moto); check again.
        if snap.get("OwnerId", scope.account_id) != scope.account_id:
            continue
        tags = tag_dict(snap.get("Tags"))
        started = utc(snap.get("StartTime"))
        found.append(
            scope.resource(
                EBS_SNAPSHOT,
                snap["SnapshotId"],
                name=tags.get("Name"),
                tags=tags,
                created_at=started,
                attributes={
                    "sizeGb": snap.get("VolumeSize"),
                    "startTime": started,
                    "volumeId": snap.get("VolumeId"),
                    "description": snap.get("Description"),
                    "sourceVolumeExists": snap.get("VolumeId") in volume_ids,
                    "usedByImage": image_of.get(snap["SnapshotId"]),
                },
            )
        )
    return found


def elastic_ips(scope: RegionScope) -> list[Resource]:
    found = []
    # DescribeAddresses has no pagination: one call returns every address.
    for addr in scope.client("ec2").describe_addresses().get("Addresses", []):
        tags = tag_dict(addr.get("Tags"))
        found.append(
            scope.resource(
                EIP,
                addr.get("AllocationId") or addr["PublicIp"],
                name=tags.get("Name"),
                tags=tags,
                attributes={
                    "publicIp": addr.get("PublicIp"),
                    "allocationId": addr.get("AllocationId"),
                    "associationId": or_none(addr.get("AssociationId")),
                    "instanceId": or_none(addr.get("InstanceId")),
                    "networkInterfaceId": or_none(addr.get("NetworkInterfaceId")),
                },
            )
        )
    return found


def load_balancers(scope: RegionScope) -> list[Resource]:
    lbs = list(scope.pages("elbv2", "describe_load_balancers", "LoadBalancers"))
    groups: dict[str, int] = {}
    registered: dict[str, int] = {}
    healthy: dict[str, int] = {}
    instances: dict[str, set[str]] = {}
    client = scope.client("elbv2")
    for tg in scope.pages("elbv2", "describe_target_groups", "TargetGroups"):
        owners = tg.get("LoadBalancerArns") or []
        if not owners:
            continue
        # DescribeTargetHealth is per target group and not paginated.
        health = client.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])
        targets = health.get("TargetHealthDescriptions", [])
        up = sum(1 for t in targets if t.get("TargetHealth", {}).get("State") == "healthy")
        # Instance targets are named by instance id (ip and lambda targets are not instances).
        ids = (
            {t["Target"]["Id"] for t in targets if t.get("Target", {}).get("Id")}
            if tg.get("TargetType", "instance") == "instance"
            else set()
        )
        for arn in owners:
            instances.setdefault(arn, set()).update(ids)
            groups[arn] = groups.get(arn, 0) + 1
            registered[arn] = registered.get(arn, 0) + len(targets)
            healthy[arn] = healthy.get(arn, 0) + up
    found = []
    for lb in lbs:
        arn = lb["LoadBalancerArn"]
        created = utc(lb.get("CreatedTime"))
        found.append(
            scope.resource(
                ELB,
                arn,
                name=lb.get("LoadBalancerName"),
                created_at=created,
                attributes={
                    "type": lb.get("Type"),
                    "scheme": lb.get("Scheme"),
                    "state": lb.get("State", {}).get("Code"),
                    "arnSuffix": arn.split(":loadbalancer/", 1)[-1],
                    "targetGroups": groups.get(arn, 0),
                    "registeredTargets": registered.get(arn, 0),
                    "healthyTargets": healthy.get(arn, 0),
                    "targetInstances": sorted(instances.get(arn, ())),
                    "createdTime": created,
                },
            )
        )
    return found


def nat_gateways(scope: RegionScope) -> list[Resource]:
    found = []
    for nat in scope.pages("ec2", "describe_nat_gateways", "NatGateways"):
        state = nat.get("State")
        if state in _GONE_NAT_STATES:
            continue
        tags = tag_dict(nat.get("Tags"))
        found.append(
            scope.resource(
                NAT_GATEWAY,
                nat["NatGatewayId"],
                name=tags.get("Name"),
                tags=tags,
                created_at=utc(nat.get("CreateTime")),
                attributes={
                    "state": state,
                    "vpcId": nat.get("VpcId"),
                    "subnetId": nat.get("SubnetId"),
                    "connectivityType": nat.get("ConnectivityType") or "public",
                },
            )
        )
    return found


def _ebs(scope: RegionScope, kinds: frozenset[str]) -> list[Resource]:
    # Snapshots need the region's volume ids anyway, so both kinds share one DescribeVolumes.
    vols = volumes(scope)
    found = vols if EBS_VOLUME in kinds else []
    if EBS_SNAPSHOT in kinds:
        found = found + snapshots(scope, {v.id for v in vols})
    return found


# Units of work: each runs in one worker thread and returns its kinds' resources.
_TASKS: tuple[tuple[frozenset[str], Callable[[RegionScope, frozenset[str]], list[Resource]]], ...] = (
    (frozenset({EC2_INSTANCE}), lambda s, _k: instances(s)),
    (frozenset({EBS_VOLUME, EBS_SNAPSHOT}), _ebs),
    (frozenset({EIP}), lambda s, _k: elastic_ips(s)),
    (frozenset({ELB}), lambda s, _k: load_balancers(s)),
    (frozenset({RDS_INSTANCE, RDS_SNAPSHOT}), databases.rds),
    (frozenset({NAT_GATEWAY}), lambda s, _k: nat_gateways(s)),
)
KNOWN_KINDS = frozenset().union(*(kinds for kinds, _ in _TASKS))


def region_tasks(scope: RegionScope, kinds: frozenset[str]) -> list[Callable[[], list[Resource]]]:
    """Callables (one per group of requested kinds) that inventory ``scope``'s region."""
    tasks = []
    for group, run in _TASKS:
        wanted = group & kinds
        if wanted:
            tasks.append(_guarded(scope, wanted, run))
    return tasks


def _guarded(
    scope: RegionScope,
    kinds: frozenset[str],
    run: Callable[[RegionScope, frozenset[str]], list[Resource]],
) -> Callable[[], list[Resource]]:
    service = SERVICE_OF_KIND[next(iter(kinds))]

    def task() -> list[Resource]:
        try:
            return run(scope, kinds)
        except (ClientError, BotoCoreError) as exc:
            operation = getattr(exc, "operation_name", None) or "Describe*"
            raise translate(exc, operation=f"{IAM_PREFIX[service]}:{operation}", where=scope.region) from None

    return task

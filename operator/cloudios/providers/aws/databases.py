"""RDS inventory of one region: DB instances, and manual DB and DB cluster snapshots.

Snapshots are asked with ``SnapshotType=manual``: automated ones expire with their retention
period and AWS Backup's are managed by its plans. Whether a snapshot's source still exists comes
from the region's DB instances and DB clusters, so one DescribeDBInstances serves both kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudios.domain import Resource
from cloudios.domain.resource import RDS_INSTANCE, RDS_SNAPSHOT
from cloudios.providers.aws.scope import RegionScope, tags, utc


def db_instances(scope: RegionScope) -> list[Resource]:
    return [
        scope.resource(
            RDS_INSTANCE,
            db["DBInstanceIdentifier"],
            name=db["DBInstanceIdentifier"],
            tags=tags(db.get("TagList")),
            created_at=utc(db.get("InstanceCreateTime")),
            attributes={
                "dbInstanceClass": db.get("DBInstanceClass"),
                "engine": db.get("Engine"),
                "multiAz": bool(db.get("MultiAZ", False)),
                "allocatedStorageGb": db.get("AllocatedStorage"),
                "storageType": db.get("StorageType"),
                "status": db.get("DBInstanceStatus"),
            },
        )
        for db in scope.pages("rds", "describe_db_instances", "DBInstances")
    ]


def _snapshot(
    scope: RegionScope, snap: Mapping[str, Any], *, arn: str, identifier: str, source: str, exists: bool
) -> Resource:
    created = utc(snap.get("SnapshotCreateTime"))
    return scope.resource(
        RDS_SNAPSHOT,
        snap[arn],
        name=snap.get(identifier),
        tags=tags(snap.get("TagList")),
        created_at=created,
        attributes={
            "identifier": snap.get(identifier),
            "cluster": arn == "DBClusterSnapshotArn",
            "snapshotType": snap.get("SnapshotType"),
            "status": snap.get("Status"),
            "engine": snap.get("Engine"),
            "allocatedStorageGb": snap.get("AllocatedStorage"),
            "createTime": created,
            "sourceId": snap.get(source),
            "sourceExists": exists,
        },
    )


def db_snapshots(scope: RegionScope, db_ids: set[str]) -> list[Resource]:
    """Manual DB snapshots and DB cluster snapshots; ``db_ids`` are the region's DB instances."""
    clusters = {c["DBClusterIdentifier"] for c in scope.pages("rds", "describe_db_clusters", "DBClusters")}
    found = [
        _snapshot(
            scope,
            snap,
            arn="DBSnapshotArn",
            identifier="DBSnapshotIdentifier",
            source="DBInstanceIdentifier",
            exists=snap.get("DBInstanceIdentifier") in db_ids,
        )
        for snap in scope.pages("rds", "describe_db_snapshots", "DBSnapshots", SnapshotType="manual")
    ]
    found += [
        _snapshot(
            scope,
            snap,
            arn="DBClusterSnapshotArn",
            identifier="DBClusterSnapshotIdentifier",
            source="DBClusterIdentifier",
            exists=snap.get("DBClusterIdentifier") in clusters,
        )
        for snap in scope.pages(
            "rds", "describe_db_cluster_snapshots", "DBClusterSnapshots", SnapshotType="manual"
        )
    ]
    return found


def rds(scope: RegionScope, kinds: frozenset[str]) -> list[Resource]:
    """DB instances and/or manual snapshots, sharing one DescribeDBInstances."""
    instances = db_instances(scope)
    found = instances if RDS_INSTANCE in kinds else []
    if RDS_SNAPSHOT in kinds:
        found = found + db_snapshots(scope, {db.id for db in instances})
    return found

"""GCP resource kinds and the attribute keys the GCP provider fills for each (modules rely on them).

Zonal resources carry their zone in ``attributes['zone']`` and its region in ``Resource.region``;
global ones (snapshots, images) have region ``global``. Times are RFC 3339 strings as the APIs
give them.
"""

from __future__ import annotations

GCE_INSTANCE = "gce.instance"
"""id: the numeric instance id (Cloud Monitoring's ``instance_id`` label); attributes: machineType
(short name, e.g. e2-standard-4 or n2-custom-4-16384), zone, status (RUNNING|TERMINATED|...),
creationTimestamp, managedBy (instance group or None), preemptible (bool)."""
GCE_DISK = "gce.disk"
"""id: the numeric disk id; attributes: diskType (pd-standard|pd-balanced|pd-ssd|pd-extreme|
hyperdisk-*), sizeGb, zone, users (instance names), status, creationTimestamp,
lastAttachTimestamp, lastDetachTimestamp."""
GCE_ADDRESS = "gce.address"
"""id: the numeric address id; attributes: address (IP), addressType (EXTERNAL|INTERNAL), status
(RESERVED|IN_USE|RESERVING), users, networkTier, creationTimestamp; region ``global`` for global
addresses."""
GCE_SNAPSHOT = "gce.snapshot"
"""id: the numeric snapshot id; attributes: storageBytes, diskSizeGb, sourceDisk,
creationTimestamp, storageLocations."""
GCE_IMAGE = "gce.image"
"""id: the numeric image id; attributes: diskSizeGb, archiveSizeBytes, family, status,
creationTimestamp."""
SQL_INSTANCE = "cloudsql.instance"
"""id: ``project:instance`` (Cloud Monitoring's ``database_id`` label); attributes: tier
(db-custom-2-7680, db-n1-standard-2, ...), databaseVersion, state (RUNNABLE|STOPPED|...),
activationPolicy (ALWAYS|NEVER), availabilityType (ZONAL|REGIONAL), dataDiskSizeGb,
dataDiskType (PD_SSD|PD_HDD), createTime."""

KINDS = frozenset({GCE_INSTANCE, GCE_DISK, GCE_ADDRESS, GCE_SNAPSHOT, GCE_IMAGE, SQL_INSTANCE})
GLOBAL = "global"


def region_of_zone(zone: str) -> str:
    """europe-west1-b -> europe-west1."""
    return zone.rsplit("-", 1)[0] if zone.count("-") >= 2 else zone  # noqa: PLR2004 - region-zone

"""What the emulator serves for each loaded estate: Compute/Cloud SQL JSON and daily time series."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cloudios.domain.gcp import GCE_ADDRESS, GCE_DISK, GCE_IMAGE, GCE_INSTANCE, GCE_SNAPSHOT, SQL_INSTANCE
from cloudios.emulators.gcp.estate import Estate, EstateResource, daily

BASE = "https://www.googleapis.com/compute/v1/projects"


@dataclass(frozen=True)
class MetricType:
    """A Cloud Monitoring metric type: its kind and value type decide which aligners are valid."""

    name: str
    resource_type: str
    kind: str  # GAUGE | DELTA
    value_type: str  # DOUBLE | INT64
    estate_metric: str
    estate_kind: str


METRIC_TYPES = {
    m.name: m
    for m in (
        MetricType(
            "compute.googleapis.com/instance/cpu/utilization",
            "gce_instance",
            "GAUGE",
            "DOUBLE",
            "cpu_utilization",
            GCE_INSTANCE,
        ),
        MetricType(
            "compute.googleapis.com/instance/network/received_bytes_count",
            "gce_instance",
            "DELTA",
            "INT64",
            "network_in_bytes",
            GCE_INSTANCE,
        ),
        MetricType(
            "compute.googleapis.com/instance/network/sent_bytes_count",
            "gce_instance",
            "DELTA",
            "INT64",
            "network_out_bytes",
            GCE_INSTANCE,
        ),
        MetricType(
            "cloudsql.googleapis.com/database/cpu/utilization",
            "cloudsql_database",
            "GAUGE",
            "DOUBLE",
            "cpu_utilization",
            SQL_INSTANCE,
        ),
        MetricType(
            "cloudsql.googleapis.com/database/network/connections",
            "cloudsql_database",
            "GAUGE",
            "INT64",
            "db_connections",
            SQL_INSTANCE,
        ),
    )
}


@dataclass(frozen=True)
class Series:
    """One resource's daily (mean, max) of one metric type; sum = mean for byte counters per day."""

    labels: dict[str, str]
    days: dict[date, tuple[float, float]]


@dataclass
class ProjectData:
    estate: Estate
    compute: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # collection -> items
    sql: list[dict[str, Any]] = field(default_factory=list)
    series: dict[str, list[Series]] = field(default_factory=dict)  # metric type -> series


def _zone(r: EstateResource) -> str:
    return str(r.attributes.get("zone") or f"{r.region}-b")


def _compute_item(project: str, r: EstateResource) -> tuple[str, dict[str, Any]]:
    a = dict(r.attributes)
    common = {"id": r.id, "name": r.name, "labels": r.labels, "creationTimestamp": a.get("creationTimestamp")}
    if r.kind == GCE_INSTANCE:
        zone = _zone(r)
        item = {
            **common,
            "zone": f"{BASE}/{project}/zones/{zone}",
            "status": a.get("status", "RUNNING"),
            "machineType": f"{BASE}/{project}/zones/{zone}/machineTypes/"
            f"{a.get('machineType', 'e2-standard-2')}",
            "scheduling": {"preemptible": bool(a.get("preemptible", False))},
        }
        if a.get("managedBy"):
            item["metadata"] = {
                "items": [
                    {
                        "key": "created-by",
                        "value": f"projects/{project}/zones/{zone}/instanceGroupManagers/{a['managedBy']}",
                    }
                ]
            }
        return f"zones/{zone}", item
    if r.kind == GCE_DISK:
        zone = _zone(r)
        return f"zones/{zone}", {
            **common,
            "zone": f"{BASE}/{project}/zones/{zone}",
            "type": f"{BASE}/{project}/zones/{zone}/diskTypes/{a.get('diskType', 'pd-balanced')}",
            "sizeGb": str(a.get("sizeGb", 10)),
            "status": a.get("status", "READY"),
            "users": [f"{BASE}/{project}/zones/{zone}/instances/{u}" for u in a.get("users", [])],  # type: ignore[attr-defined]
            "lastAttachTimestamp": a.get("lastAttachTimestamp"),
            "lastDetachTimestamp": a.get("lastDetachTimestamp"),
        }
    if r.kind == GCE_ADDRESS:
        scope = "global" if r.region == "global" else f"regions/{r.region}"
        item = {
            **common,
            "address": a.get("address"),
            "addressType": a.get("addressType", "EXTERNAL"),
            "status": a.get("status", "RESERVED"),
            "users": list(a.get("users", [])),  # type: ignore[call-overload]
            "networkTier": a.get("networkTier", "PREMIUM"),
        }
        if r.region != "global":
            item["region"] = f"{BASE}/{project}/regions/{r.region}"
        return scope, item
    if r.kind == GCE_SNAPSHOT:
        return "global", {
            **common,
            "storageBytes": str(a.get("storageBytes", 0)),
            "diskSizeGb": str(a.get("diskSizeGb", 10)),
            "storageLocations": a.get("storageLocations", ["us"]),
            "sourceDisk": a.get("sourceDisk"),
            "status": "READY",
        }
    return "global", {
        **common,
        "diskSizeGb": str(a.get("diskSizeGb", 10)),
        "archiveSizeBytes": str(a.get("archiveSizeBytes", 0)),
        "family": a.get("family"),
        "status": "READY",
    }


_COLLECTION = {
    GCE_INSTANCE: "instances",
    GCE_DISK: "disks",
    GCE_ADDRESS: "addresses",
    GCE_SNAPSHOT: "snapshots",
    GCE_IMAGE: "images",
}


def _sql_item(r: EstateResource) -> dict[str, Any]:
    a = r.attributes
    return {
        "name": r.name,
        "region": r.region,
        "databaseVersion": a.get("databaseVersion", "POSTGRES_15"),
        "state": a.get("state", "RUNNABLE"),
        "createTime": a.get("createTime"),
        "settings": {
            "tier": a.get("tier", "db-custom-1-3840"),
            "activationPolicy": a.get("activationPolicy", "ALWAYS"),
            "availabilityType": a.get("availabilityType", "ZONAL"),
            "dataDiskSizeGb": str(a.get("dataDiskSizeGb", 10)),
            "dataDiskType": a.get("dataDiskType", "PD_SSD"),
            "userLabels": r.labels,
        },
    }


def build(estate: Estate, today: date | None = None) -> ProjectData:
    """Everything the emulator answers for ``estate``; series are fixed once, by resource id."""
    project = estate.account
    data = ProjectData(estate=estate)
    end = today or datetime.now(UTC).date()
    for r in estate.resources:
        if r.kind == SQL_INSTANCE:
            data.sql.append(_sql_item(r))
        else:
            scope, item = _compute_item(project, r)
            item["_scope"] = scope
            data.compute.setdefault(_COLLECTION[r.kind], []).append(item)
        for metric in METRIC_TYPES.values():
            spec = r.metrics.get(metric.estate_metric)
            if metric.estate_kind != r.kind or spec is None:
                continue
            rng = random.Random(zlib.crc32(f"{project}/{r.id}/{metric.estate_metric}".encode()))  # noqa: S311
            values = daily(spec, estate.lookback_days, rng)
            days = {end - timedelta(days=len(values) - i): v for i, v in enumerate(values)}
            labels = (
                {"project_id": project, "instance_id": r.id, "zone": _zone(r)}
                if r.kind == GCE_INSTANCE
                else {"project_id": project, "database_id": f"{project}:{r.name}", "region": r.region}
            )
            data.series.setdefault(metric.name, []).append(Series(labels, days))
    return data

"""k8s.pvc.unused: bound claims no pod has mounted for days, and Released volumes; their disks still bill.

A PersistentVolumeClaim is reported when it is Bound, no live pod mounts it now, and ingest's
history says no pod has mounted it since at least minUnmountedDays ago (that history starts with
the agent's first report, so a young cluster reports nothing yet). A PersistentVolume in phase
Released lost its claim but was kept (reclaim policy Retain): its disk bills until someone deletes
it; the agent does not report since when, so these findings are medium confidence.

Savings: the volume's capacity (else the claim's request) in whole GiB at the cloud's disk price
for the disk type its CSI driver and storage class identify (docs/providers/kubernetes.md lists
the classes known). Other volumes are published unpriced with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from pydantic import Field

from cloudios.domain import Action, Category, Confidence, Finding, Provider, Resource, Snapshot, Usage
from cloudios.domain import kubernetes as k8s
from cloudios.modules import confidence as conf
from cloudios.modules.base import Module, ModuleSpec
from cloudios.modules.kubernetes import _common as common


class PvcUnusedSettings(common.CamelSettings):
    """Thresholds of k8s.pvc.unused."""

    min_unmounted_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description="Days a bound claim has been mounted by no pod before it is reported.",
    )
    include_released: bool = Field(
        default=True,
        description="Also report PersistentVolumes in phase Released (kept after their claim went).",
    )


SPEC = ModuleSpec(
    name="k8s.pvc.unused",
    provider=Provider.KUBERNETES,
    category=Category.ORPHANED,
    summary="Bound PersistentVolumeClaims mounted by no pod for minUnmountedDays days, and Released "
    "PersistentVolumes; back up and delete. Savings are the disk's GiB-month at the cloud's price.",
    resource_kinds=(k8s.K8S_CLAIM, k8s.K8S_VOLUME),
    permissions=(common.PODS, common.CLAIMS, common.VOLUMES),
    settings=PvcUnusedSettings,
)


def evaluate(snapshot: Snapshot, settings: PvcUnusedSettings) -> Sequence[Finding]:
    findings: list[Finding] = []
    for claim in snapshot.of_kind(k8s.K8S_CLAIM):
        since = common.as_datetime(claim.attr("unmountedSince"))
        if claim.attr("phase") != "Bound" or claim.attr("mountedBy") or since is None:
            continue
        days = (snapshot.collected_at - since).total_seconds() / 86400
        level = conf.for_days(math.floor(days), settings.min_unmounted_days)
        if level is None:
            continue
        findings.append(_claim_finding(claim, since, days, level, settings))
    if settings.include_released:
        findings += [
            _volume_finding(v, settings)
            for v in snapshot.of_kind(k8s.K8S_VOLUME)
            if v.attr("phase") == "Released"
        ]
    return findings


def _claim_finding(
    claim: Resource, since: datetime, days: float, level: Confidence, settings: PvcUnusedSettings
) -> Finding:
    namespace = str(claim.attr("namespace"))
    size = common.as_int(claim.attr("capacityBytes")) or common.as_int(claim.attr("requestedBytes"))
    return common.build_finding(
        SPEC,
        claim,
        action=Action.DELETE,
        title=f"Delete claim {namespace}/{claim.name}: mounted by no pod for {math.floor(days)} days",
        confidence=level,
        current=_shape(claim, size),
        proposed={
            "state": "deleted (back the data up first if it matters)",
            "command": common.kubectl("delete", "pvc", str(claim.name), namespace),
        },
        evidence=common.evidence(
            settings,
            None,
            unmountedSince=since.isoformat(),
            unmountedDays=round(days, 1),
            note="Deleting the claim deletes its disk when the volume's reclaim policy is Delete; with "
            "Retain the volume stays, Released, until it is deleted too.",
        ),
        current_usage=[_disk(claim, size)],
    )


def _volume_finding(volume: Resource, settings: PvcUnusedSettings) -> Finding:
    size = common.as_int(volume.attr("capacityBytes"))
    return common.build_finding(
        SPEC,
        volume,
        action=Action.DELETE,
        title=f"Delete Released volume {volume.id} (its claim {volume.attr('claim') or '?'} is gone)",
        confidence=Confidence.MEDIUM,
        current=_shape(volume, size),
        proposed={
            "state": "deleted, with its cloud disk (back the data up first if it matters)",
            "command": common.kubectl("delete", "pv", volume.id, None),
        },
        evidence=common.evidence(
            settings,
            None,
            phase="Released",
            formerClaim=volume.attr("claim"),
            note="Released volumes keep their disk (reclaim policy Retain); since when is not reported. "
            "Deleting the PersistentVolume object does not delete a retained disk: delete it in the cloud.",
        ),
        current_usage=[_disk(volume, size)],
    )


def _shape(resource: Resource, size: int) -> dict[str, object]:
    return {
        "capacity": common.memory_quantity(size) if size else None,
        "storageClass": resource.attr("storageClass"),
        "diskType": resource.attr("diskType"),
    }


def _disk(resource: Resource, size: int) -> Usage:
    """The disk's GiB-month line; unknown cloud or type are left empty for the book to explain."""
    attributes = {
        key: str(resource.attr(key) or "") for key in ("cloud", "diskType", "storageClass", "csiDriver")
    }
    return Usage(
        sku=k8s.DISK, region=resource.region, attributes=attributes, quantity=math.ceil(size / common.GIB)
    )


MODULE = Module(SPEC, evaluate)

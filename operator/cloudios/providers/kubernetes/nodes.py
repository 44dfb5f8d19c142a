"""Which cloud, region and instance type a node is: parsed from its providerID and topology labels."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from cloudios.domain import Provider, Resource
from cloudios.domain import kubernetes as k8s
from cloudios_agent.wire import Node

AWS, GCP, AZURE = "aws", "gcp", "azure"
_AWS_ZONE = re.compile(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]$")  # us-east-1a -> us-east-1
_GCP_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")  # europe-west1-b -> europe-west1
_AZURE_ZONE = re.compile(r"^([a-z0-9]+)-\d+$")  # westeurope-1 -> westeurope


@dataclass(frozen=True)
class Placement:
    """A node's cloud (None when the providerID is not one of AWS, GCP, Azure), region and zone."""

    cloud: str | None
    region: str | None
    zone: str | None


def placement(node: Node) -> Placement:
    """Cloud from the providerID; region from the region label, else from the zone (label or providerID).

    providerID forms: ``aws:///us-east-1a/i-0abc`` (zone, instance), ``gce://project/zone/name``,
    ``azure:///subscriptions/.../virtualMachines/name`` (no zone: AKS nodes carry region labels).
    """
    cloud, id_zone = parse_provider_id(node.provider_id or "")
    zone = node.zone or id_zone
    region = node.region or (region_of_zone(cloud, zone) if zone else None)
    return Placement(cloud, region, zone)


def parse_provider_id(provider_id: str) -> tuple[str | None, str | None]:
    """(cloud, zone) from a node's spec.providerID; (None, None) for others (kind, bare metal)."""
    scheme, sep, rest = provider_id.partition("://")
    if not sep:
        return None, None
    parts = [p for p in rest.split("/") if p]
    if scheme == "aws":
        # aws:///us-east-1a/i-0abc; EKS Fargate and some tools add more segments before the id.
        zone = parts[0] if len(parts) >= 2 and _AWS_ZONE.match(parts[0]) else None  # noqa: PLR2004
        return AWS, zone
    if scheme == "gce":
        return GCP, parts[1] if len(parts) >= 3 else None  # noqa: PLR2004 - project/zone/name
    if scheme == "azure":
        return AZURE, None
    return None, None


def region_of_zone(cloud: str | None, zone: str) -> str | None:
    """The region a zone belongs to, by each cloud's naming (None when the name does not fit)."""
    pattern = {AWS: _AWS_ZONE, GCP: _GCP_ZONE, AZURE: _AZURE_ZONE}.get(cloud or "")
    candidates = [pattern] if pattern else [_AWS_ZONE, _GCP_ZONE, _AZURE_ZONE]
    for candidate in candidates:
        found = candidate.match(zone)
        if found:
            return found.group(1)
    return None


def cluster_placement(nodes: Iterable[Node]) -> tuple[str | None, str]:
    """(cloud, region) most of the nodes are in; the region is ``unknown`` without one."""
    places = [placement(n) for n in nodes]
    clouds = Counter(p.cloud for p in places if p.cloud)
    regions = Counter(p.region for p in places if p.region)
    cloud = clouds.most_common(1)[0][0] if clouds else None
    region = regions.most_common(1)[0][0] if regions else k8s.UNKNOWN_REGION
    return cloud, region


def node_resource(node: Node, *, cluster: str, cluster_region: str) -> Resource:
    """A node as the modules see it (``domain.kubernetes.K8S_NODE``)."""
    where = placement(node)
    return Resource(
        provider=Provider.KUBERNETES,
        account_id=cluster,
        region=where.region or cluster_region,
        kind=k8s.K8S_NODE,
        id=node.name,
        name=node.name,
        created_at=node.created_at,
        attributes={
            "cloud": where.cloud,
            "providerId": node.provider_id,
            "instanceType": node.instance_type,
            "zone": where.zone,
            "capacityType": node.capacity_type,
            "arch": node.arch,
            "cpuCapacityM": node.capacity.cpu_m,
            "memoryCapacityBytes": node.capacity.memory_bytes,
            "cpuAllocatableM": node.allocatable.cpu_m,
            "memoryAllocatableBytes": node.allocatable.memory_bytes,
            "unschedulable": node.unschedulable,
            "createdAt": node.created_at.isoformat(),
        },
    )

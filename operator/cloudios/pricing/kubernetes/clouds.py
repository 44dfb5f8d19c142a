"""What a node, a persistent disk or a LoadBalancer Service of a cluster bills as, in each cloud's own SKUs.

The Kubernetes provider says which cloud a node runs in (from its providerID) and which disk type
a volume is (from its CSI driver and storage class); this module turns that into the usage line
the cloud's price book prices. A ``str`` result is the reason there is no such line.
"""

from __future__ import annotations

from decimal import Decimal

from cloudios.domain import Usage

AWS, GCP, AZURE = "aws", "gcp", "azure"
CLOUDS = (AWS, GCP, AZURE)

# Azure Premium SSD (P), Standard SSD (E) and Standard HDD (S) disks bill the tier their size falls
# in: (largest GiB of the tier, tier number). The same table as modules/azure (Azure's disk pricing
# page); kept here because pricing may not import modules.
_AZURE_TIERS = (
    (4, 1), (8, 2), (16, 3), (32, 4), (64, 6), (128, 10), (256, 15), (512, 20), (1024, 30),
    (2048, 40), (4096, 50), (8192, 60), (16384, 70), (32767, 80),
)  # fmt: skip
_AZURE_LETTER = {"Premium": "P", "StandardSSD": "E", "Standard": "S"}
_AZURE_SMALLEST_HDD = 4  # Standard HDD starts at S4


def node_usage(cloud: str, region: str, instance_type: str) -> Usage | str:
    """The compute line of one node (Linux: the agent does not report the node's OS)."""
    if not instance_type:
        return "the node has no node.kubernetes.io/instance-type label"
    if cloud == AWS:
        return Usage(
            sku="ec2.instance", region=region, attributes={"instanceType": instance_type, "os": "linux"}
        )
    if cloud == GCP:
        return Usage(sku="gce.instance", region=region, attributes={"machineType": instance_type})
    if cloud == AZURE:
        return Usage(sku="azure.vm", region=region, attributes={"vmSize": instance_type, "os": "linux"})
    return unknown_cloud(cloud)


def disk_usage(cloud: str, region: str, disk_type: str, gib: Decimal) -> Usage | str:
    """The monthly line of one persistent disk of ``gib`` GiB."""
    if cloud == AWS:
        return Usage(sku="ebs.volume", region=region, attributes={"volumeType": disk_type}, quantity=gib)
    if cloud == GCP:
        return Usage(sku="gce.disk", region=region, attributes={"diskType": disk_type}, quantity=gib)
    if cloud == AZURE:
        tier = azure_disk_tier(disk_type, gib)
        if tier is None:
            return (
                f"Azure {disk_type} disks bill per GiB, provisioned IOPS and throughput, which the "
                "Azure price book does not hold"
            )
        return Usage(sku="azure.disk", region=region, attributes={"tier": tier})
    return unknown_cloud(cloud)


def load_balancer_usage(cloud: str, region: str) -> Usage | str:
    """The hourly line of the cloud load balancer behind one LoadBalancer Service.

    AWS: priced as a Network Load Balancer (what the AWS Load Balancer Controller creates; the
    in-tree Classic ELB costs a little more, so this is a lower bound); data and LCU charges are
    not included. Azure: a Standard load balancer's first five rules. GCP: the forwarding rule is
    not in the GCP book.
    """
    if cloud == AWS:
        return Usage(sku="elb", region=region, attributes={"type": "network"})
    if cloud == AZURE:
        return Usage(sku="azure.lb", region=region)
    if cloud == GCP:
        return "the GCP price book has no forwarding-rule prices (a LoadBalancer Service's cost on GKE)"
    return unknown_cloud(cloud)


def azure_disk_tier(sku: str, gib: Decimal) -> str | None:
    """The billed tier of a managed disk ('P10 LRS'), or None for per-GiB SKUs (Premium SSD v2, Ultra)."""
    kind, _, redundancy = sku.partition("_")
    letter = _AZURE_LETTER.get(kind)
    if letter is None or redundancy not in {"LRS", "ZRS"}:
        return None
    for ceiling, number in _AZURE_TIERS:
        if gib <= ceiling:
            billed = max(number, _AZURE_SMALLEST_HDD) if letter == "S" else number
            return f"{letter}{billed} {redundancy}"
    return None


def unknown_cloud(cloud: str) -> str:
    if not cloud:
        return (
            "its cloud is unknown (no providerID of AWS, GCP or Azure on the nodes), so no price book applies"
        )
    return f"no price book for cloud '{cloud}'"

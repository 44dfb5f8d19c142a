"""Build an Azure price snapshot from Azure Retail Prices API records.

Input: response pages of ``https://prices.azure.com/api/retail/prices`` (``{"Items": [...],
"NextPageLink": ...}``), already parsed. Only pay-as-you-go (``type`` Consumption) USD records are
kept, primary meter regions only, and of those:

* Virtual Machines, ``unitOfMeasure`` 1 Hour, not Spot / Low Priority / Cloud Services:
  ``productName`` ending in `` Windows`` -> vm.windows, otherwise vm.linux, keyed by ``armSkuName``;
* Storage, managed disk products, meters ``<P|E|S><n> <LRS|ZRS> Disk`` per month -> disk tiers;
  meters ``<LRS|ZRS> Snapshot(s)`` per GB-month -> snapshot (Standard HDD product: Standard_*,
  Premium SSD product: Premium_*);
* Virtual Network, IP Addresses, ``Standard|Basic IPv4 Static Public IP`` per hour -> publicIp;
* Load Balancer, ``Standard Included LB Rules and Outbound Rules`` and ``Standard Overage LB Rules
  and Outbound Rules`` per hour -> loadBalancer (Azure lists them under region 'Global').

Downloading is the CLI's job: this package imports no HTTP client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cloudios.pricing.azure.book import GLOBAL, AzurePriceBook, AzureRegionPrices, TableSource

API = "https://prices.azure.com/api/retail/prices"
DEFAULT_REGIONS = ("eastus", "eastus2", "westus2", "westeurope", "northeurope", "uksouth", "southeastasia")
QUERIES = (
    ("vm", "serviceName eq 'Virtual Machines' and priceType eq 'Consumption'"),
    (
        "storage",
        "serviceName eq 'Storage' and priceType eq 'Consumption' and contains(productName, 'Managed Disks')",
    ),
    (
        "ip",
        "serviceName eq 'Virtual Network' and productName eq 'IP Addresses' and priceType eq 'Consumption'",
    ),
)
LB_QUERY = "serviceName eq 'Load Balancer' and priceType eq 'Consumption'"
_DISK = re.compile(r"^(?P<tier>[PES]\d+) (?P<red>LRS|ZRS) Disk$")
_SNAPSHOT = re.compile(r"^(?P<red>LRS|ZRS) Snapshots?$")
_IP = re.compile(r"^(?P<sku>Standard|Basic) IPv4 Static Public IP$")
_DISK_PRODUCTS = {"Standard HDD Managed Disks": "Standard", "Premium SSD Managed Disks": "Premium"}
_LB = {
    "Standard Included LB Rules and Outbound Rules": "lb_hourly",
    "Standard Overage LB Rules and Outbound Rules": "lb_rule_hourly",
}
_TABLE_OF = {
    "vm.linux": "vm",
    "vm.windows": "vm",
    "disk": "disk",
    "snapshot": "snapshot",
    "publicIp": "ip",
    "loadBalancer": "lb",
}


def query_url(what: str, region: str | None) -> str:
    """The first page's URL of one query (``region`` None: the load balancer's Global meters)."""
    text = LB_QUERY if what == "lb" else dict(QUERIES)[what]
    if region is not None:
        text += f" and armRegionName eq '{region}'"
    return f"{API}?currencyCode='USD'&$filter={text}"


@dataclass
class Collector:
    """Accumulates records into region tables; ``build`` makes the book."""

    regions: frozenset[str]
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen_tables: set[str] = field(default_factory=set)
    records: int = 0

    def _region(self, name: str) -> dict[str, Any]:
        return self.prices.setdefault(
            name, {"vm": {}, "disk": {}, "snapshot_gb_month": {}, "public_ip_hourly": {}}
        )

    def add(self, page: Mapping[str, Any]) -> None:
        for item in page.get("Items") or []:
            self.records += 1
            self._item(item)

    def _item(self, item: Mapping[str, Any]) -> None:
        if item.get("type") != "Consumption" or item.get("currencyCode", "USD") != "USD":
            return
        if item.get("isPrimaryMeterRegion") is False:
            return
        region = str(item.get("armRegionName") or "").lower()
        price = Decimal(str(item.get("retailPrice")))
        unit, meter, product = (
            item.get("unitOfMeasure"),
            str(item.get("meterName") or ""),
            str(item.get("productName") or ""),
        )
        service = item.get("serviceName")
        if service == "Load Balancer" and meter in _LB and unit in {"1 Hour", "1/Hour"}:
            self._region(GLOBAL if region in {"", "global"} else region)[_LB[meter]] = price
            self.seen_tables.add("loadBalancer")
            return
        if region not in self.regions:
            return
        if service == "Virtual Machines" and unit == "1 Hour":
            sku_name = str(item.get("skuName") or "")
            if (
                sku_name.endswith((" Spot", " Low Priority"))
                or "Cloud Services" in product
                or not item.get("armSkuName")
            ):
                return
            os_name = "windows" if product.endswith(" Windows") else "linux"
            self._region(region)["vm"].setdefault(os_name, {})[item["armSkuName"]] = price
            self.seen_tables.add(f"vm.{os_name}")
        elif service == "Storage" and (m := _DISK.match(meter)) and unit == "1/Month":
            self._region(region)["disk"][f"{m['tier']} {m['red']}"] = price
            self.seen_tables.add("disk")
        elif service == "Storage" and (m := _SNAPSHOT.match(meter)) and product in _DISK_PRODUCTS:
            self._region(region)["snapshot_gb_month"][f"{_DISK_PRODUCTS[product]}_{m['red']}"] = price
            self.seen_tables.add("snapshot")
        elif service == "Virtual Network" and (m := _IP.match(meter)) and unit == "1 Hour":
            self._region(region)["public_ip_hourly"][f"{m['sku']} IPv4"] = price
            self.seen_tables.add("publicIp")

    def build(self, previous: AzurePriceBook, fetched: date, source: str) -> AzurePriceBook:
        """A book with the refreshed tables; regions and tables not refreshed keep ``previous``'s prices."""
        regions = dict(previous.regions)
        for name, found in self.prices.items():
            old = regions.get(name, AzureRegionPrices())
            now = {t: _source(source, fetched, t) for t in sorted(self.seen_tables) if _refreshed(t, found)}
            fresh = {os_name: sizes for os_name, sizes in found["vm"].items() if sizes}
            regions[name] = AzureRegionPrices(
                vm={**old.vm, **fresh},
                # A refreshed VM table is Azure's whole table: its supplementary figures go with it.
                vm_supplement={o: sizes for o, sizes in old.vm_supplement.items() if o not in fresh},
                disk=found["disk"] or old.disk,
                snapshot_gb_month=found["snapshot_gb_month"] or old.snapshot_gb_month,
                public_ip_hourly=found["public_ip_hourly"] or old.public_ip_hourly,
                lb_hourly=found.get("lb_hourly", old.lb_hourly),
                lb_rule_hourly=found.get("lb_rule_hourly", old.lb_rule_hourly),
                # A table refreshed here has prices now; the others keep their reason.
                unpriced={t: why for t, why in old.unpriced.items() if t not in now},
                # Each refreshed table records its source here: the other regions keep the bundled one.
                sources={**old.sources, **now},
            )
        tables = dict(previous.tables)
        for table in sorted(self.seen_tables):
            # A table the bundled book lacked is the refresh's wherever it has prices.
            tables.setdefault(table, _source(source, fetched, table))
        dates = [t.date for t in tables.values()] + [
            t.date for region in regions.values() for t in region.sources.values()
        ]
        return previous.model_copy(
            update={
                "date": min(dates) if dates else fetched,
                "source": f"Refreshed {fetched} from the Azure Retail Prices API; tables keep their own "
                "source and date (tables), and a refreshed region records the refresh as its tables' "
                "source (its sources).",
                "tables": tables,
                "regions": dict(sorted(regions.items())),
            }
        )


def _source(source: str, fetched: date, table: str) -> TableSource:
    """The recorded source of a table read from the refresh's records."""
    return TableSource(
        source=f"{source} ({API}, {_TABLE_OF[table]} records, priceType Consumption, USD)", date=fetched
    )


def _refreshed(table: str, found: Mapping[str, Any]) -> bool:
    """Whether a region's refreshed records hold prices of a table."""
    if table.startswith("vm."):
        return bool(found["vm"].get(table.removeprefix("vm.")))
    section = {"disk": "disk", "snapshot": "snapshot_gb_month", "publicIp": "public_ip_hourly"}.get(table)
    if section is not None:
        return bool(found[section])
    return table == "loadBalancer" and "lb_hourly" in found


def pages(documents: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    """Pass-through that validates the shape of Retail Prices API pages."""
    for document in documents:
        if not isinstance(document, Mapping) or not isinstance(document.get("Items"), list):
            raise ValueError("not a Retail Prices API page (no 'Items' list)")  # noqa: TRY004 - input error
        yield document

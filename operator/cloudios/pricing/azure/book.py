"""The Azure price book: pay-as-you-go list prices per region, each table with its source and date."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cloudios.domain import Money, Usage
from cloudios.domain.money import DecimalStr
from cloudios.pricing import _jsontext, base

BUNDLED = "data/azure-prices.json"
GLOBAL = "global"  # the Retail Prices API lists Standard load balancer meters under 'Global'
TABLES = ("vm.linux", "vm.windows", "disk", "snapshot", "publicIp", "loadBalancer")


class _PriceModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class TableSource(_PriceModel):
    """Where one table's prices come from and when they were published or fetched."""

    source: str
    date: date
    module: str | None = Field(default=None, description="Go module path of a sourced module's data.")
    version: str | None = Field(default=None, description="Version of ``module``.")
    download: str | None = Field(
        default=None, description="Where ``module`` was fetched: the Go module proxy path of its zip."
    )
    sha256: str | None = Field(default=None, description="SHA-256 of the downloaded zip (hex).")
    dirhash: str | None = Field(
        default=None, description="Go's h1: hash of the module's files (as in go.sum), checked on use."
    )
    path: str | None = Field(default=None, description="The data file inside the source.")
    method: str | None = Field(default=None, description="How the source's keys were mapped to ours.")
    supplement: TableSource | None = Field(
        default=None,
        description="Where the table's supplementary figures come from: sizes this source lacks or whose "
        "figures were left out, priced from a second source (a region's ``vmSupplement``).",
    )


class AzureRegionPrices(_PriceModel):
    """Every price the book knows in one region (or 'global'); a missing entry means unknown, never zero."""

    vm: dict[str, dict[str, DecimalStr]] = Field(
        default_factory=dict, description="linux|windows -> ARM size name -> USD per hour."
    )
    vm_supplement: dict[str, dict[str, DecimalStr]] = Field(
        default_factory=dict,
        description="linux|windows -> ARM size name -> USD per hour, for sizes ``vm`` lacks, from the "
        "table's supplement source (``tables['vm.<os>'].supplement``).",
    )
    disk: dict[str, DecimalStr] = Field(
        default_factory=dict, description="billed tier ('P10 LRS', 'E4 ZRS', 'S30 LRS') -> USD per month."
    )
    snapshot_gb_month: dict[str, DecimalStr] = Field(
        default_factory=dict,
        description="snapshot SKU (Standard_LRS, Standard_ZRS, Premium_LRS) -> USD per GB-month.",
    )
    public_ip_hourly: dict[str, DecimalStr] = Field(
        default_factory=dict, description="'Standard IPv4' | 'Basic IPv4' (static) -> USD per hour."
    )
    lb_hourly: DecimalStr | None = Field(
        default=None, description="Standard load balancer, first five rules together, USD per hour."
    )
    lb_rule_hourly: DecimalStr | None = Field(
        default=None, description="Standard load balancer, each rule beyond five, USD per hour."
    )
    unpriced: dict[str, str] = Field(
        default_factory=dict,
        description="table (vm.windows, ...) -> why the snapshot has no prices for it in this region.",
    )
    sources: dict[str, TableSource] = Field(
        default_factory=dict,
        description="table -> its source in this region, where it is not the book's (a region refreshed "
        "on its own: its table is Azure's, the other regions keep the bundled one).",
    )

    def count(self) -> int:
        """How many prices the region holds."""
        scalars = sum(p is not None for p in (self.lb_hourly, self.lb_rule_hourly))
        return (
            sum(len(t) for t in self.vm.values())
            + sum(len(t) for t in self.vm_supplement.values())
            + len(self.disk)
            + len(self.snapshot_gb_month)
            + len(self.public_ip_hourly)
            + scalars
        )


class AzurePriceBook(_PriceModel):
    """A dated Azure price snapshot in USD on the list (pay-as-you-go, Consumption) basis.

    Implements ``cloudios.pricing.PriceBook``. Usage SKUs: ``azure.vm`` {vmSize, os} per hour;
    ``azure.disk`` {tier} per month (a disk without a tier, Premium SSD v2 or Ultra, has no price);
    ``azure.snapshot`` {sku} per GB-month; ``azure.publicip`` {sku, version} per hour;
    ``azure.lb`` {} and ``azure.lb.rule`` {} per hour (looked up in the region, then 'global').
    """

    format_version: Literal[1] = 1
    provider: Literal["azure"] = "azure"
    date: date
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    basis: Literal["list"] = "list"
    source: str
    notes: list[str] = Field(default_factory=list)
    tables: dict[str, TableSource] = Field(
        default_factory=dict, description="table (vm.linux, vm.windows, disk, ...) -> its source and date."
    )
    regions: dict[str, AzureRegionPrices] = Field(default_factory=dict)

    def count(self) -> int:
        return sum(r.count() for r in self.regions.values())

    def vm_hourly(self, region: str, vm_size: str, os: str = "linux") -> Decimal | None:
        """The hourly price of a VM size (from the table or its supplement), or None when unknown."""
        prices = self.regions.get(region)
        return None if prices is None else _vm(prices, {"os": os, "vmSize": vm_size})

    def unit_price(self, usage: Usage) -> tuple[Decimal, bool] | None:
        """(price per unit, billed hourly?) of a usage line, or None when unknown."""
        price_of = _PRICE_OF.get(usage.sku)
        if price_of is None:
            return None
        for region in (usage.region, GLOBAL) if usage.sku in _GLOBAL_FALLBACK else (usage.region,):
            prices = self.regions.get(region)
            price = None if prices is None else price_of(prices, usage.attributes)
            if price is not None:
                return price, usage.sku in _HOURLY
        return None

    def monthly(self, usage: Usage) -> Money | None:
        """Monthly cost of a usage line (hourly prices x 730), or None when unknown."""
        return base.monthly_cost(self.unit_price(usage), usage, self.currency)

    def hourly(self, usage: Usage) -> Money | None:
        """Hourly cost of a usage line (monthly prices / 730), or None when unknown."""
        return base.hourly_cost(self.monthly(usage))

    def missing(self, usage: Usage) -> str:
        """Why a usage line has no price, naming the table and its source."""
        what = " ".join(v for v in (usage.sku, *sorted(usage.attributes.values())) if v)
        where = f"no list price for {what} in {usage.region}"
        if usage.sku not in _PRICE_OF:
            return f"{where}: the Azure price book does not price {usage.sku}"
        table = _table(usage)
        known = self.source_of(table, usage.region)
        region = self.regions.get(usage.region)
        if region is not None and table in region.unpriced:
            return f"{where}: {region.unpriced[table]}"
        if known is None:
            return (
                f"{where}: the bundled snapshot has no {table} table "
                "(`cloudios prices refresh --provider azure` fetches it from the Retail Prices API)"
            )
        if usage.region not in self.regions:
            return f"{where}: the {table} table ({known.source}, {known.date}) has no prices there"
        extra = known.supplement
        also = "" if extra is None else f", nor in its supplement ({extra.source}, {extra.date})"
        return f"{where}: not in the {table} table ({known.source}, {known.date}){also}"

    def basis_of(self, usage: Usage) -> str | None:
        """The recorded source of the table that prices a usage line, in words; None when unpriced."""
        if self.unit_price(usage) is None:
            return None
        table = _table(usage)
        known = self.source_of(table, self._pricing_region(usage))
        if known is not None and known.supplement is not None and self._supplemented(usage):
            return f"{table} supplement: {known.supplement.source.rstrip('.')}, {known.supplement.date}"
        return (
            f"{table}: {known.source.rstrip('.')}, {known.date}"
            if known is not None
            else f"{table}: {self.source}"
        )

    def source_of(self, table: str, region: str) -> TableSource | None:
        """The recorded source of a table's prices in a region: the region's own, else the book's."""
        prices = self.regions.get(region)
        own = None if prices is None else prices.sources.get(table)
        return own if own is not None else self.tables.get(table)

    def _pricing_region(self, usage: Usage) -> str:
        """The region whose prices priced a line (load balancers may fall back to 'global')."""
        price_of = _PRICE_OF[usage.sku]
        for region in (usage.region, GLOBAL) if usage.sku in _GLOBAL_FALLBACK else (usage.region,):
            prices = self.regions.get(region)
            if prices is not None and price_of(prices, usage.attributes) is not None:
                return region
        return usage.region

    def _supplemented(self, usage: Usage) -> bool:
        """Whether a VM line is priced from its table's supplement (its main source lacks the size)."""
        prices = self.regions.get(usage.region)
        if usage.sku != "azure.vm" or prices is None:
            return False
        os_name, size = usage.attributes.get("os", "linux"), usage.attributes.get("vmSize", "")
        return size not in prices.vm.get(os_name, {}) and size in prices.vm_supplement.get(os_name, {})


def _table(usage: Usage) -> str:
    """The name of the table that prices a usage line (VMs: vm.<os>)."""
    if usage.sku == "azure.vm":
        return f"vm.{usage.attributes.get('os', 'linux')}"
    return _TABLE_OF.get(usage.sku, usage.sku)


PriceOf = Callable[[AzureRegionPrices, dict[str, str]], Decimal | None]
# Usage SKU -> the name of its table in ``AzurePriceBook.tables`` (VMs: vm.<os>).
_TABLE_OF = {"azure.disk": "disk", "azure.snapshot": "snapshot", "azure.publicip": "publicIp",
             "azure.lb": "loadBalancer", "azure.lb.rule": "loadBalancer"}  # fmt: skip


def _vm(p: AzureRegionPrices, a: dict[str, str]) -> Decimal | None:
    os_name, size = a.get("os", "linux"), a.get("vmSize", "")
    found = p.vm.get(os_name, {}).get(size)
    return found if found is not None else p.vm_supplement.get(os_name, {}).get(size)


def _disk(p: AzureRegionPrices, a: dict[str, str]) -> Decimal | None:
    return p.disk.get(a.get("tier", ""))


def _snapshot(p: AzureRegionPrices, a: dict[str, str]) -> Decimal | None:
    return p.snapshot_gb_month.get(a.get("sku", "Standard_LRS"))


def _public_ip(p: AzureRegionPrices, a: dict[str, str]) -> Decimal | None:
    return p.public_ip_hourly.get(f"{a.get('sku', 'Standard')} {a.get('version', 'IPv4')}")


_PRICE_OF: dict[str, PriceOf] = {
    "azure.vm": _vm,
    "azure.disk": _disk,
    "azure.snapshot": _snapshot,
    "azure.publicip": _public_ip,
    "azure.lb": lambda p, _a: p.lb_hourly,
    "azure.lb.rule": lambda p, _a: p.lb_rule_hourly,
}
_HOURLY = frozenset({"azure.vm", "azure.publicip", "azure.lb", "azure.lb.rule"})
_GLOBAL_FALLBACK = frozenset({"azure.lb", "azure.lb.rule"})
SKUS = tuple(_PRICE_OF)


def parse_book(text: str) -> AzurePriceBook:
    """A price book from its JSON text; numbers are read as Decimal, never float."""
    data = json.loads(text, parse_float=Decimal)
    if isinstance(data, dict) and isinstance(data.get("regions"), dict):
        _jsontext.share_decimals(
            table
            for region in data["regions"].values()
            if isinstance(region, dict)
            for section in ("vm", "vmSupplement")
            for table in (region.get(section) or {}).values()
        )
    return AzurePriceBook.model_validate(data)


def dump_book(book: AzurePriceBook) -> str:
    """The JSON text of a price book (Decimal prices as strings)."""
    data = book.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _jsontext.encode(data) + "\n"


@cache
def bundled() -> AzurePriceBook:
    """The snapshot shipped with the package, read once per process."""
    text = resources.files("cloudios.pricing.azure").joinpath(BUNDLED).read_text(encoding="utf-8")
    return parse_book(text)

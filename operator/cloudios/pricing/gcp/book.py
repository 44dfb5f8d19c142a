"""The GCP price book: on-demand list prices per region, each table with its own source and date."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from cloudios.domain import HOURS_PER_MONTH, Money, Usage
from cloudios.domain.money import DecimalStr

BUNDLED = "data/gcp-prices.json"
# Snapshot storage locations (multi-regions) as the price tables name them.
MULTI_REGIONS = {"us": "us-multi", "eu": "europe-multi", "asia": "asia-multi"}
# Custom machine type names (Compute Engine's scheme): [<family>-]custom-<vCPUs>-<MiB>[-ext]; no
# family prefix means N1. '-ext' marks extended memory, billed at a rate of its own.
_CUSTOM = re.compile(r"^(?:(?P<family>[a-z][a-z0-9]*)-)?custom-(?P<vcpu>\d+)-(?P<mib>\d+)(?P<ext>-ext)?$")
EXTENDED_MEMORY = "extendedMemory"  # the key of customMachineTypes' reason for '-ext' types


class _PriceModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class PriceTable(_PriceModel):
    """One table: region -> key -> price, and where and when the prices were taken."""

    source: str = Field(description="Where the prices come from, in words a reader can check.")
    date: date
    unit: str = Field(description="What one price buys, e.g. 'USD per hour'.")
    prices: dict[str, dict[str, DecimalStr]] = Field(
        default_factory=dict, description="region -> key -> price"
    )
    unpriced: dict[str, str] = Field(
        default_factory=dict, description="key (or group of keys) the table has no price for -> why."
    )

    def get(self, region: str, key: str) -> Decimal | None:
        return self.prices.get(region, {}).get(key)


class GcpPriceBook(_PriceModel):
    """A dated GCP price snapshot in USD at list prices; implements ``cloudios.pricing.PriceBook``.

    Usage vocabulary (``domain.Usage``):
    - ``gce.instance`` {machineType}: 1 per running VM (hourly x 730)
    - ``gce.disk`` {diskType}: GB-month
    - ``gce.snapshot`` {}: GB-month, priced at the snapshot's storage location
    - ``gce.address`` {}: 1 per reserved, unused static external IPv4 address (hourly x 730)
    - ``cloudsql.instance`` {tier, availabilityType}: 1 per instance (hourly x 730)
    A ``gce.instance`` whose machine type is custom (``[family-]custom-<vCPUs>-<MiB>``) is priced from
    the customMachineTypes table: vCPUs x the family's vCPU-hour + GiB x its GiB-hour.
    A missing table or entry means 'unknown' (the finding is reported unpriced), never zero; ``unpriced``
    (and a table's own ``unpriced``) say why.
    """

    format_version: Literal[1] = 1
    provider: Literal["gcp"] = "gcp"
    date: date
    currency: Literal["USD"] = "USD"
    basis: Literal["list"] = "list"
    source: str
    notes: list[str] = Field(default_factory=list)
    tables: dict[str, PriceTable] = Field(default_factory=dict, description="table name -> table")
    unpriced: dict[str, str] = Field(
        default_factory=dict, description="table the snapshot does not have -> why (no public source, ...)."
    )

    def count(self) -> int:
        return sum(len(p) for t in self.tables.values() for p in t.prices.values())

    def unit_price(self, usage: Usage) -> tuple[Decimal, bool] | None:
        """(price per unit, billed hourly?) of a usage line, or None when unknown."""
        rule = _RULES.get(usage.sku)
        if rule is None:
            return None
        table_name, key_of, hourly = rule
        table = self.tables.get(table_name)
        if table is None:
            return None
        region = MULTI_REGIONS.get(usage.region, usage.region)
        price = table.get(region, key_of(usage.attributes))
        if price is None and usage.sku == "gce.instance":
            price = self._custom(region, key_of(usage.attributes))
        return None if price is None else (price, hourly)

    def _custom(self, region: str, machine_type: str) -> Decimal | None:
        """The hourly price of a custom machine type from its family's vCPU and GiB rates, or None."""
        match = _CUSTOM.match(machine_type)
        table = self.tables.get(CUSTOM)
        if match is None or match["ext"] or table is None:
            return None
        family = match["family"] or "n1"
        vcpu, gib = table.get(region, f"{family}/vcpu"), table.get(region, f"{family}/memoryGib")
        if vcpu is None or gib is None:
            return None
        return int(match["vcpu"]) * vcpu + Decimal(int(match["mib"])) / 1024 * gib

    def monthly(self, usage: Usage) -> Money | None:
        found = self.unit_price(usage)
        if found is None:
            return None
        price, hourly = found
        per_month = price * HOURS_PER_MONTH if hourly else price
        return Money(amount=per_month * usage.quantity, currency=self.currency)

    def missing(self, usage: Usage) -> str:
        """Why a usage line has no price, e.g. 'no list price for gce.instance custom-4-16384 in
        europe-west1: not in the bundled machineTypes table (source ...)'."""
        rule = _RULES.get(usage.sku)
        what = " ".join(v for v in (usage.sku, *sorted(usage.attributes.values())) if v)
        where = f"no list price for {what} in {usage.region}"
        if rule is None:
            return f"{where}: the GCP price book does not price {usage.sku}"
        table = self.tables.get(rule[0])
        if table is None:
            why = self.unpriced.get(rule[0])
            return f"{where}: the snapshot has no {rule[0]} table" + (f": {why}" if why else "")
        region = MULTI_REGIONS.get(usage.region, usage.region)
        custom = (
            _CUSTOM.match(usage.attributes.get("machineType", "")) if usage.sku == "gce.instance" else None
        )
        if custom is not None:
            return f"{where}: {self._custom_missing(region, custom)}"
        if region not in table.prices:
            return f"{where}: the {rule[0]} table ({table.source}, {table.date}) has no prices there"
        return f"{where}: not in the {rule[0]} table ({table.source}, {table.date})"

    def _custom_missing(self, region: str, match: re.Match[str]) -> str:
        """Why a custom machine type has no price: no table, extended memory, family or region unknown."""
        table = self.tables.get(CUSTOM)
        if table is None:
            return f"a custom machine type, and the snapshot has no {CUSTOM} table"
        family = match["family"] or "n1"
        where = f"the {CUSTOM} table ({table.source}, {table.date})"
        if match["ext"]:
            return f"a custom type with extended memory: {table.unpriced.get(EXTENDED_MEMORY, where)}"
        if family in table.unpriced:
            return f"a custom {family} type: {table.unpriced[family]}"
        if region not in table.prices:
            return f"a custom type: {where} has no prices there"
        return f"a custom {family} type: {where} has no {family} vCPU and GiB rates there"

    def hourly(self, usage: Usage) -> Money | None:
        monthly = self.monthly(usage)
        return (
            None
            if monthly is None
            else Money(amount=monthly.amount / HOURS_PER_MONTH, currency=self.currency)
        )


KeyOf = Callable[[Mapping[str, str]], str]
MACHINES, CUSTOM, DISKS, SNAPSHOTS, ADDRESSES, CLOUDSQL = (
    "machineTypes",
    "customMachineTypes",
    "disks",
    "snapshots",
    "unusedAddresses",
    "cloudSqlInstances",
)
_RULES: dict[str, tuple[str, KeyOf, bool]] = {
    "gce.instance": (MACHINES, lambda a: a.get("machineType", ""), True),
    "gce.disk": (DISKS, lambda a: a.get("diskType", ""), False),
    "gce.snapshot": (SNAPSHOTS, lambda _a: "standard", False),
    "gce.address": (ADDRESSES, lambda _a: "external-ipv4", True),
    "cloudsql.instance": (
        CLOUDSQL,
        lambda a: f"{a.get('tier', '')}/{a.get('availabilityType', 'ZONAL')}",
        True,
    ),
}
SKUS = tuple(_RULES)


def parse_book(text: str) -> GcpPriceBook:
    """A price book from its JSON text; numbers are read as Decimal, never float."""
    return GcpPriceBook.model_validate(json.loads(text, parse_float=Decimal))


def dump_book(book: GcpPriceBook) -> str:
    data = book.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(data, indent=None, separators=(",", ":"), sort_keys=False) + "\n"


@cache
def bundled() -> GcpPriceBook:
    """The snapshot shipped with the package, read once per process."""
    return parse_book(resources.files("cloudios.pricing.gcp").joinpath(BUNDLED).read_text(encoding="utf-8"))

"""The AWS price book: on-demand list prices per region, from the bundled snapshot or a refreshed file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from cloudios.domain import Money, Usage
from cloudios.domain.money import DecimalStr
from cloudios.pricing import _jsontext, base
from cloudios.pricing.aws import codec, tables

BUNDLED = "data/aws-prices.json"
MULTI_AZ_FACTOR = Decimal(2)  # RDS MySQL/PostgreSQL Multi-AZ (one standby): instance and storage


class _PriceModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class EbsPrice(_PriceModel):
    """One EBS volume type: per GB-month, per provisioned IOPS-month, per MiB/s-month."""

    gb_month: DecimalStr | None = None
    iops_month: DecimalStr | None = Field(
        default=None, description="gp3: per IOPS above 3,000; io1/io2: per provisioned IOPS."
    )
    throughput_month: DecimalStr | None = Field(default=None, description="gp3: per MiB/s above 125.")


class TableSource(_PriceModel):
    """The recorded basis of one price table: where its figures come from, and how."""

    kind: Literal["sourced", "listed", "derived", "refreshed"] = Field(
        description="sourced: parsed by a program from a public file; listed: compiled by hand from "
        "AWS's pricing pages; derived: computed from other tables by ``method``; refreshed: read "
        "from the AWS Price List bulk API by ``cloudios prices refresh``."
    )
    source: str = Field(description="Where the figures come from, in words a reader can check.")
    repository: str | None = None
    module: str | None = Field(default=None, description="Go module path of a sourced module's data.")
    version: str | None = Field(default=None, description="Version of ``module``.")
    download: str | None = Field(
        default=None, description="Where ``module`` was fetched: the Go module proxy path of its zip."
    )
    sha256: str | None = Field(default=None, description="SHA-256 of the downloaded zip (hex).")
    dirhash: str | None = Field(
        default=None, description="Go's h1: hash of the module's files (as in go.sum), checked on use."
    )
    path: str | None = None
    commit: str | None = None
    date: str | None = Field(default=None, description="When the source was published (ISO date).")
    method: str | None = Field(
        default=None,
        description="How derived figures were computed, or how a source's keys were mapped to ours.",
    )


class RegionPrices(_PriceModel):
    """Every price the book knows in one region; a missing entry means 'unknown', never zero."""

    source: str = Field(description="Where these prices come from (listed, derived, refreshed).")
    tables: dict[str, TableSource] = Field(
        default_factory=dict,
        description="Table (ec2.linux, ec2.windows-sql-web, rds.mysql, ebs, snapshot, publicIpv4, elb, "
        "nat, rdsStorage; see ``tables.TABLES``) -> the recorded basis of its figures.",
    )
    unpriced: dict[str, str] = Field(
        default_factory=dict, description="Table -> why the snapshot has no figures for it here."
    )
    ec2_absent: dict[str, str] = Field(
        default_factory=dict,
        description="OS -> why instance types the EC2 API names have no price in its table "
        "(not sold on demand in the region, or retired).",
    )
    ec2_absent_types: dict[str, list[str]] = Field(
        default_factory=dict, description="OS -> the instance types ``ec2_absent`` explains."
    )
    ec2: dict[str, dict[str, DecimalStr]] = Field(
        default_factory=dict,
        description="platform (linux, windows, rhel, suse, <os>-sql-<edition>) -> instance type -> "
        "USD per hour.",
    )
    ebs: dict[str, EbsPrice] = Field(default_factory=dict, description="volume type -> prices.")
    snapshot_gb_month: DecimalStr | None = None
    public_ipv4_hourly: DecimalStr | None = None
    elb_hourly: dict[str, DecimalStr] = Field(
        default_factory=dict, description="application|network|gateway -> USD per hour (no LCU)."
    )
    nat_gateway_hourly: DecimalStr | None = None
    rds: dict[str, dict[str, DecimalStr]] = Field(
        default_factory=dict,
        description="engine[:licence or Aurora storage] (``tables.RDS_ENGINES``) -> DB instance class "
        "-> Single-AZ USD per hour.",
    )
    rds_storage_gb_month: dict[str, DecimalStr] = Field(
        default_factory=dict, description="storage type -> Single-AZ USD per GB-month."
    )

    def count(self) -> int:
        """How many prices the region holds."""
        scalars = (self.snapshot_gb_month, self.public_ipv4_hourly, self.nat_gateway_hourly)
        ebs = sum(
            sum(p is not None for p in (e.gb_month, e.iops_month, e.throughput_month))
            for e in self.ebs.values()
        )
        return (
            sum(len(t) for t in self.ec2.values())
            + sum(len(t) for t in self.rds.values())
            + len(self.elb_hourly)
            + len(self.rds_storage_gb_month)
            + ebs
            + sum(s is not None for s in scalars)
        )


class AwsPriceBook(_PriceModel):
    """A dated AWS price snapshot in one currency and on one basis (list prices).

    Implements ``cloudios.pricing.PriceBook``; the region tables and ``instance_hourly`` are what
    AWS modules may read beyond it.
    """

    format_version: Literal[1] = 1
    provider: Literal["aws"] = Field(
        default="aws", description="Whose prices these are; older snapshots lack it and are AWS ones."
    )
    date: date
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    basis: Literal["list"] = "list"
    source: str
    notes: list[str] = Field(default_factory=list)
    bases: dict[str, TableSource] = Field(
        default_factory=dict,
        description="Basis records shared by many regions; a region's tables entry may name one by key.",
    )
    regions: dict[str, RegionPrices] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _named_bases(cls, data: Any) -> Any:
        return codec.resolve(data)

    def count(self) -> int:
        return sum(r.count() for r in self.regions.values())

    def instance_hourly(
        self, region: str, instance_type: str, os: str = "linux", sql_server: str | None = None
    ) -> Decimal | None:
        """The hourly price of an EC2 instance type (with SQL Server of an edition), or None when unknown."""
        prices = self.regions.get(region)
        key = tables.ec2_table_key(os, sql_server)
        return None if prices is None else prices.ec2.get(key, {}).get(instance_type)

    def unit_price(self, usage: Usage) -> tuple[Decimal, bool] | None:
        """(price per unit, billed hourly?) of a usage line, or None when unknown."""
        prices = self.regions.get(usage.region)
        price_of = _PRICE_OF.get(usage.sku)
        if prices is None or price_of is None:
            return None
        price = price_of(prices, usage.attributes)
        return None if price is None else (price, usage.sku in _HOURLY)

    def monthly(self, usage: Usage) -> Money | None:
        """Monthly cost of a usage line (hourly prices x 730), or None when unknown."""
        return base.monthly_cost(self.unit_price(usage), usage, self.currency)

    def hourly(self, usage: Usage) -> Money | None:
        """Hourly cost of a usage line (monthly prices / 730), or None when unknown."""
        return base.hourly_cost(self.monthly(usage))

    def missing(self, usage: Usage) -> str:
        """Why a usage line has no price: 'no list price for RHEL m5.xlarge in eu-west-3: ...'."""
        where = f"no list price for {tables.describe(usage)} in {usage.region}"
        prices = self.regions.get(usage.region)
        if prices is None:
            return f"{where}: the snapshot has no prices for this region"
        if usage.sku not in _PRICE_OF:
            return f"{where}: the price book has no {usage.sku} table"
        return f"{where}: {_reason(prices, usage)}"

    def basis_of(self, usage: Usage) -> str | None:
        """The recorded basis of the table that prices a usage line, in words; None when unpriced."""
        prices = self.regions.get(usage.region)
        if prices is None or self.unit_price(usage) is None:
            return None
        table = tables.table_of(usage)
        basis = prices.tables.get(table) or prices.tables.get(table.split(".")[0])
        if basis is None:
            return f"{table}: {prices.source}"
        dated = f", {basis.date}" if basis.date else ""
        return f"{table}: {basis.kind}, {basis.source}{dated}"


def _reason(prices: RegionPrices, usage: Usage) -> str:
    """Why a region's tables have no price for a usage line."""
    special = _rds_reason(prices, usage.attributes) if usage.sku == "rds.instance" else None
    if special is not None:
        return special
    table = tables.table_of(usage)
    family = table.split(".")[0]
    # Snapshots written before per-engine tables record the rds table whole.
    legacy = family if family == "rds" else table
    reason = prices.unpriced.get(table) or prices.unpriced.get(legacy)
    if reason is None and usage.sku == "ec2.instance":
        key = tables.ec2_key(usage.attributes)
        if usage.attributes.get("instanceType", "") in prices.ec2_absent_types.get(key, ()):
            reason = prices.ec2_absent.get(key)
    if reason is not None:
        return reason
    basis = prices.tables.get(table) or prices.tables.get(legacy)
    known = sorted(t for t in (*prices.tables, *prices.unpriced) if t.startswith(f"{family}."))
    if basis is None and known:
        return f"the snapshot has no {table} table (its {family} tables: {', '.join(known)})"
    return f"the {table} table ({basis.source if basis else prices.source}) has no entry for it"


def _rds_reason(prices: RegionPrices, a: dict[str, str]) -> str | None:
    """The RDS-specific reasons: an attribute the price depends on is missing, or Multi-AZ."""
    key = tables.rds_key(a)
    if key is None:
        return f"the RDS price depends on {tables.rds_needs(a)}, and the finding does not say which"
    single = prices.rds.get(key, {}).get(a.get("dbInstanceClass", ""))
    if single is not None and _truthy(a.get("multiAz")) and key not in tables.MULTI_AZ_ENGINES:
        return (
            f"the snapshot holds Single-AZ prices of {key}; Multi-AZ is priced as twice Single-AZ "
            f"only for {', '.join(sorted(tables.MULTI_AZ_ENGINES))}, where that rule is recorded"
        )
    return None


PriceOf = Callable[[RegionPrices, dict[str, str]], Decimal | None]


def _truthy(value: str | None) -> bool:
    return str(value).lower() in {"true", "1", "yes"}


def _ec2(p: RegionPrices, a: dict[str, str]) -> Decimal | None:
    return p.ec2.get(tables.ec2_key(a), {}).get(a.get("instanceType", ""))


def _ebs(field: str) -> PriceOf:
    def price(p: RegionPrices, a: dict[str, str]) -> Decimal | None:
        entry = p.ebs.get(a.get("volumeType", ""))
        value: Decimal | None = None if entry is None else getattr(entry, field)
        return value

    return price


def _scalar(field: str) -> PriceOf:
    def price(p: RegionPrices, _a: dict[str, str]) -> Decimal | None:
        value: Decimal | None = getattr(p, field)
        return value

    return price


def _elb(p: RegionPrices, a: dict[str, str]) -> Decimal | None:
    return p.elb_hourly.get(a.get("type", ""))


def _rds_instance(p: RegionPrices, a: dict[str, str]) -> Decimal | None:
    key = tables.rds_key(a)
    price = None if key is None else p.rds.get(key, {}).get(a.get("dbInstanceClass", ""))
    if price is None or not _truthy(a.get("multiAz")):
        return price
    return price * MULTI_AZ_FACTOR if key in tables.MULTI_AZ_ENGINES else None


def _rds_storage(p: RegionPrices, a: dict[str, str]) -> Decimal | None:
    price = p.rds_storage_gb_month.get(a.get("storageType", ""))
    if price is None:
        return None
    return price * MULTI_AZ_FACTOR if _truthy(a.get("multiAz")) else price


# The Usage vocabulary (domain/finding.py) and how each SKU finds its unit price.
_PRICE_OF: dict[str, PriceOf] = {
    "ec2.instance": _ec2,
    "ebs.volume": _ebs("gb_month"),
    "ebs.iops": _ebs("iops_month"),
    "ebs.throughput": _ebs("throughput_month"),
    "ebs.snapshot": _scalar("snapshot_gb_month"),
    "ec2.eip": _scalar("public_ipv4_hourly"),
    "elb": _elb,
    "nat.gateway": _scalar("nat_gateway_hourly"),
    "rds.instance": _rds_instance,
    "rds.storage": _rds_storage,
}
_HOURLY = frozenset({"ec2.instance", "ec2.eip", "elb", "nat.gateway", "rds.instance"})
SKUS = tuple(_PRICE_OF)


def parse_book(text: str) -> AwsPriceBook:
    """A price book from its JSON text; numbers are read as Decimal, never float."""
    return AwsPriceBook.model_validate(codec.share_prices(json.loads(text, parse_float=Decimal)))


def dump_book(book: AwsPriceBook) -> str:
    """The JSON text of a price book (Decimal prices as strings, shared bases named by key)."""
    data = book.model_dump(mode="json", by_alias=True, exclude_none=True)
    return _jsontext.encode(codec.share(data)) + "\n"


@cache
def bundled() -> AwsPriceBook:
    """The snapshot shipped with the package, read once per process."""
    return parse_book(resources.files("cloudios.pricing.aws").joinpath(BUNDLED).read_text(encoding="utf-8"))

"""The AWS price book: on-demand list prices per region, from the bundled snapshot or a refreshed file."""

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
from cloudios.pricing import base

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


class RegionPrices(_PriceModel):
    """Every price the book knows in one region; a missing entry means 'unknown', never zero."""

    source: str = Field(description="Where these prices come from (listed, derived, refreshed).")
    ec2: dict[str, dict[str, DecimalStr]] = Field(
        default_factory=dict, description="os -> instance type -> USD per hour."
    )
    ebs: dict[str, EbsPrice] = Field(default_factory=dict, description="volume type -> prices.")
    snapshot_gb_month: DecimalStr | None = None
    public_ipv4_hourly: DecimalStr | None = None
    elb_hourly: dict[str, DecimalStr] = Field(
        default_factory=dict, description="application|network|gateway -> USD per hour (no LCU)."
    )
    nat_gateway_hourly: DecimalStr | None = None
    rds: dict[str, dict[str, DecimalStr]] = Field(
        default_factory=dict, description="engine -> DB instance class -> Single-AZ USD per hour."
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
    regions: dict[str, RegionPrices] = Field(default_factory=dict)

    def count(self) -> int:
        return sum(r.count() for r in self.regions.values())

    def instance_hourly(self, region: str, instance_type: str, os: str = "linux") -> Decimal | None:
        """The hourly price of an EC2 instance type, or None when unknown."""
        prices = self.regions.get(region)
        return None if prices is None else prices.ec2.get(os, {}).get(instance_type)

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


PriceOf = Callable[[RegionPrices, dict[str, str]], Decimal | None]


def _truthy(value: str | None) -> bool:
    return str(value).lower() in {"true", "1", "yes"}


def _ec2(p: RegionPrices, a: dict[str, str]) -> Decimal | None:
    return p.ec2.get(a.get("os", "linux"), {}).get(a.get("instanceType", ""))


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
    price = p.rds.get(a.get("engine", ""), {}).get(a.get("dbInstanceClass", ""))
    if price is None:
        return None
    return price * MULTI_AZ_FACTOR if _truthy(a.get("multiAz")) else price


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
    return AwsPriceBook.model_validate(json.loads(text, parse_float=Decimal))


def dump_book(book: AwsPriceBook) -> str:
    """The JSON text of a price book (Decimal prices as strings)."""
    data = book.model_dump(mode="json", by_alias=True, exclude_none=True)
    return json.dumps(data, indent=1) + "\n"


@cache
def bundled() -> AwsPriceBook:
    """The snapshot shipped with the package, read once per process."""
    return parse_book(resources.files("cloudios.pricing.aws").joinpath(BUNDLED).read_text(encoding="utf-8"))

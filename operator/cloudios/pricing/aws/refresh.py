"""Build a price snapshot from AWS Price List bulk offer files, parsed as streams.

Input: the per-region ``current`` offer files of AmazonEC2, AmazonRDS, AWSELB and AmazonVPC
(``/offers/v1.0/aws/<offer>/current/<region>/index.json``), as byte or text chunks. They are
read with ``JsonStream`` entry by entry, never loaded whole: the us-east-1 AmazonEC2 file alone is
several hundred megabytes. Products are filtered first (AWS writes ``products`` before ``terms``);
only the OnDemand terms of kept products are read. Downloading is the CLI's job: this package
imports no HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from cloudios.pricing._jsonstream import JsonStream
from cloudios.pricing.aws.book import AwsPriceBook, RegionPrices
from cloudios.pricing.aws.tables import ec2_table_key

OFFERS = ("AmazonEC2", "AmazonRDS", "AWSELB", "AmazonVPC")
DEFAULT_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
)
OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
EBS_TYPES = frozenset({"gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"})
RDS_ENGINES = {"MySQL": "mysql", "PostgreSQL": "postgres"}  # -> rds.mysql, rds.postgres
RDS_STORAGE = {"General Purpose": "gp2", "General Purpose-GP3": "gp3"}
LB_TYPES = {
    "Load Balancer-Application": "application",
    "Load Balancer-Network": "network",
    "Load Balancer-Gateway": "gateway",
}
# Older offer files name regions only by location.
LOCATIONS = {
    "US East (N. Virginia)": "us-east-1",
    "US East (Ohio)": "us-east-2",
    "US West (N. California)": "us-west-1",
    "US West (Oregon)": "us-west-2",
    "EU (Ireland)": "eu-west-1",
    "EU (Frankfurt)": "eu-central-1",
    "EU (London)": "eu-west-2",
    "Asia Pacific (Singapore)": "ap-southeast-1",
    "Asia Pacific (Tokyo)": "ap-northeast-1",
    "Asia Pacific (Sydney)": "ap-southeast-2",
}
HOURS = frozenset({"Hrs", "Hours"})
GB_MONTH = frozenset({"GB-Mo", "GB-month"})
MIBPS_PER_GIBPS = Decimal(1024)


@dataclass(frozen=True)
class Slot:
    """Where one product's price goes in the book: region, section, keys, expected units."""

    region: str
    section: str
    keys: tuple[str, ...]
    units: frozenset[str]


@dataclass(frozen=True)
class OfferInfo:
    """Identity of one parsed offer file."""

    offer_code: str
    version: str
    publication_date: str


def _region(attrs: dict[str, Any]) -> str | None:
    if attrs.get("locationType", "AWS Region") != "AWS Region":
        return None
    code = attrs.get("regionCode")
    return str(code) if code else LOCATIONS.get(str(attrs.get("location", "")))


# The offer files' operatingSystem -> the snapshot's OS key (the license is included in the price).
OPERATING_SYSTEMS = {"Linux": "linux", "Windows": "windows", "RHEL": "rhel", "SUSE": "suse"}
# preInstalledSw -> the SQL Server edition of the ec2.<os>-sql-<edition> tables (NA: no software).
PRE_INSTALLED = {"NA": None, "SQL Web": "web", "SQL Std": "standard", "SQL Ent": "enterprise"}
_LICENSES = frozenset({"No License required", "License Included"})
# Snapshot section -> the table name a region's ``tables``/``unpriced`` use for it (ec2 and rds
# hold one table per key: ec2.<platform>, rds.<engine>).
_TABLE_OF_SECTION = {
    "ebs": "ebs",
    "snapshotGbMonth": "snapshot",
    "publicIpv4Hourly": "publicIpv4",
    "elbHourly": "elb",
    "natGatewayHourly": "nat",
    "rdsStorageGbMonth": "rdsStorage",
}
_PER_KEY = ("ec2", "rds")
_META = frozenset({"source", "tables", "unpriced", "ec2Absent", "ec2AbsentTypes"})


def _is_plain(a: dict[str, Any]) -> bool:
    """A priced OS, shared tenancy, no or SQL Server software, capacity actually used, on demand."""
    optional = {"capacitystatus": "Used", "marketoption": "OnDemand"}
    return (
        a.get("operatingSystem") in OPERATING_SYSTEMS
        and a.get("preInstalledSw") in PRE_INSTALLED
        and a.get("tenancy") == "Shared"
        and a.get("licenseModel", "No License required") in _LICENSES
        and str(a.get("operation", "RunInstances")).startswith("RunInstances")
        and all(a.get(k, v) == v for k, v in optional.items())
    )


def _ec2(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    if not _is_plain(a) or not a.get("instanceType"):
        return None
    platform = ec2_table_key(
        OPERATING_SYSTEMS[str(a["operatingSystem"])], PRE_INSTALLED[str(a["preInstalledSw"])]
    )
    return "ec2", (platform, str(a["instanceType"])), HOURS


def _storage(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    volume = a.get("volumeApiName")
    if volume not in EBS_TYPES or "EBS:VolumeUsage" not in str(a.get("usagetype", "")):
        return None
    return "ebs", (str(volume), "gbMonth"), GB_MONTH


def _iops(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    volume = a.get("volumeApiName")
    usage = str(a.get("usagetype", ""))
    # io2 IOPS are tiered; the first tier (".tier2"/".tier3" excluded) is the one kept.
    if a.get("group") != "EBS IOPS" or volume not in {"io1", "io2", "gp3"} or ".tier" in usage:
        return None
    return "ebs", (str(volume), "iopsMonth"), frozenset({"IOPS-Mo"})


def _throughput(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    if a.get("volumeApiName") != "gp3":
        return None
    return "ebs", ("gp3", "throughputMonth"), frozenset({"GiBps-mo", "MiBps-Mo", "MBps-Mo"})


def _snapshot(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    if not str(a.get("usagetype", "")).endswith("EBS:SnapshotUsage"):
        return None
    return "snapshotGbMonth", (), GB_MONTH


def _nat(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    if not str(a.get("usagetype", "")).endswith("NatGateway-Hours"):
        return None
    return "natGatewayHourly", (), HOURS


def _rds(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    engine = RDS_ENGINES.get(str(a.get("databaseEngine", "")))
    db_class = str(a.get("instanceType", ""))
    if engine is None or a.get("deploymentOption") != "Single-AZ" or not db_class.startswith("db."):
        return None
    return "rds", (engine, db_class), HOURS


def _rds_storage(a: dict[str, Any]) -> tuple[str, tuple[str, ...], frozenset[str]] | None:
    storage = RDS_STORAGE.get(str(a.get("volumeType", "")))
    engine_ok = a.get("databaseEngine", "Any") in {"MySQL", "PostgreSQL", "Any"}
    if storage is None or a.get("deploymentOption") != "Single-AZ" or not engine_ok:
        return None
    return "rdsStorageGbMonth", (storage,), GB_MONTH


Classifier = Callable[[dict[str, Any]], tuple[str, tuple[str, ...], frozenset[str]] | None]
CLASSIFIERS: dict[str, Classifier] = {
    "Compute Instance": _ec2,
    "Storage": _storage,
    "System Operation": _iops,
    "Provisioned Throughput": _throughput,
    "Storage Snapshot": _snapshot,
    "NAT Gateway": _nat,
    "Database Instance": _rds,
    "Database Storage": _rds_storage,
}


def classify(product: dict[str, Any]) -> Slot | None:
    """The book slot a product's on-demand price fills, or None for products the book ignores."""
    attrs = product.get("attributes", {})
    region = _region(attrs)
    if region is None:
        return None
    family = str(product.get("productFamily", ""))
    usage = str(attrs.get("usagetype", ""))
    found: tuple[str, tuple[str, ...], frozenset[str]] | None
    if usage.endswith("PublicIPv4:IdleAddress"):
        found = "publicIpv4Hourly", (), HOURS
    elif family in LB_TYPES:
        found = ("elbHourly", (LB_TYPES[family],), HOURS) if usage.endswith("LoadBalancerUsage") else None
    else:
        classifier = CLASSIFIERS.get(family)
        found = None if classifier is None else classifier(attrs)
    return None if found is None else Slot(region, found[0], found[1], found[2])


def on_demand_price(terms: dict[str, Any]) -> tuple[str, Decimal] | None:
    """(unit, USD price) of the first tier of a product's OnDemand term."""
    for term in terms.values():
        for dim in term.get("priceDimensions", {}).values():
            usd = dim.get("pricePerUnit", {}).get("USD")
            if usd is not None and str(dim.get("beginRange", "0")) == "0":
                return str(dim.get("unit", "")), Decimal(str(usd))
    return None


@dataclass
class Collector:
    """Accumulates prices from any number of offer files, then builds an AwsPriceBook."""

    regions: frozenset[str]
    offers: list[OfferInfo] = field(default_factory=list)
    prices: dict[tuple[str, str, tuple[str, ...]], Decimal] = field(default_factory=dict)
    conflicts: int = 0
    skipped_units: int = 0

    def parse(self, chunks: Iterable[bytes | str]) -> OfferInfo:
        """Read one offer file; its matching on-demand prices join the collection."""
        stream = JsonStream(chunks)
        meta: dict[str, str] = {}
        slots: dict[str, Slot] = {}
        terms: dict[str, tuple[str, Decimal]] = {}
        products_seen = False
        for key in stream.iter_object():
            if key == "products":
                slots.update(self._products(stream))
                products_seen = True
            elif key == "terms":
                # AWS writes products first; should terms come first, every price is kept.
                terms.update(self._on_demand(stream, slots if products_seen else None))
            elif key in {"offerCode", "version", "publicationDate"}:
                meta[key] = str(stream.read_value())
            else:
                stream.skip_value()
        for sku, slot in slots.items():
            if sku in terms:
                self._add(slot, *terms[sku])
        info = OfferInfo(
            meta.get("offerCode", "?"), meta.get("version", "?"), meta.get("publicationDate", "")
        )
        self.offers.append(info)
        return info

    def _products(self, stream: JsonStream) -> dict[str, Slot]:
        slots: dict[str, Slot] = {}
        for sku in stream.iter_object():
            slot = classify(stream.read_value())
            if slot is not None and slot.region in self.regions:
                slots[sku] = slot
        return slots

    @staticmethod
    def _on_demand(stream: JsonStream, wanted: dict[str, Slot] | None) -> dict[str, tuple[str, Decimal]]:
        found: dict[str, tuple[str, Decimal]] = {}
        for term_type in stream.iter_object():
            if term_type != "OnDemand":
                stream.skip_value()
                continue
            for sku in stream.iter_object():
                price = on_demand_price(stream.read_value())
                if price is not None and (wanted is None or sku in wanted):
                    found[sku] = price
        return found

    def _add(self, slot: Slot, unit: str, price: Decimal) -> None:
        if unit not in slot.units or price <= 0:
            self.skipped_units += 1
            return
        if unit == "GiBps-mo":
            price = price / MIBPS_PER_GIBPS
        key = (slot.region, slot.section, slot.keys)
        if key in self.prices and self.prices[key] != price:
            self.conflicts += 1  # the first product wins; a second one means a filter gap
            return
        self.prices[key] = price.normalize()

    def build(self, fallback: AwsPriceBook) -> AwsPriceBook:
        """A book of the collected prices; anything the offer files lacked stays from ``fallback``."""
        if not self.offers:
            raise ValueError("no offer file was parsed")
        published = max((o.publication_date for o in self.offers), default="")
        offers = ", ".join(f"{o.offer_code} {o.version}" for o in self.offers)
        regions = dict(fallback.regions)
        for region in sorted(self.regions):
            regions[region] = self._region(region, fallback.regions.get(region), offers, fallback)
        return AwsPriceBook(
            date=date.fromisoformat(published[:10]) if published else fallback.date,
            currency="USD",
            basis="list",
            source="AWS Price List bulk API (https://pricing.us-east-1.amazonaws.com/offers/"
            "v1.0/aws/), current on-demand list prices, parsed by 'cloudios prices refresh'; "
            "entries missing from the offer files keep the previous snapshot's price (see each "
            "region's source).",
            notes=fallback.notes,
            bases=fallback.bases,
            regions=regions,
        )

    def _region(
        self, region: str, base: RegionPrices | None, offers: str, fallback: AwsPriceBook
    ) -> RegionPrices:
        data: dict[str, Any] = base.model_dump(by_alias=True, exclude_none=True) if base is not None else {}
        fresh: dict[str, Any] = {}
        for (where, section, keys), price in sorted(self.prices.items()):
            if where != region:
                continue
            if not keys:
                fresh[section] = price
                continue
            node = fresh.setdefault(section, {})
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = price
        # A refreshed table replaces the old one whole, so no stale entry survives in it; ec2 and rds
        # hold one table per platform or engine, and the ones the files lacked stay as they were.
        for section, found in fresh.items():
            data[section] = {**data.get(section, {}), **found} if section in _PER_KEY else found
        refreshed = _table_names(fresh)
        _record_tables(data, fresh, refreshed, f"AWS Price List bulk API ({offers})")
        kept = sorted(t for t in _table_names(data) if t not in refreshed)
        carried = ""
        if kept:
            previous = base.source if base is not None else "-"
            carried = (
                f"; carried over from the {fallback.date} snapshot: {', '.join(kept)} "
                f"(its source: {previous})"
            )
        data["source"] = (
            f"AWS Price List bulk API ({offers}); refreshed: {', '.join(refreshed) or '-'}{carried}"
        )
        return RegionPrices.model_validate(data)


def _table_names(sections: dict[str, Any]) -> list[str]:
    """The table names of a region's price sections: ec2.<platform>, rds.<engine>, ebs, ..."""
    names = [f"{section}.{key}" for section in _PER_KEY for key in sections.get(section, {})]
    names += [_TABLE_OF_SECTION[k] for k in sections if k in _TABLE_OF_SECTION]
    return sorted(names)


def _record_tables(data: dict[str, Any], fresh: dict[str, Any], names: list[str], source: str) -> None:
    """Mark each refreshed table's basis and drop the reasons it was unpriced."""
    tables = dict(data.get("tables", {}))
    unpriced = dict(data.get("unpriced", {}))
    for name in names:
        tables[name] = {"kind": "refreshed", "source": source}
        unpriced.pop(name, None)
    data["tables"], data["unpriced"] = tables, unpriced
    # Absences were explained against the old tables of the platforms refreshed.
    for absent in ("ec2Absent", "ec2AbsentTypes"):
        kept = {k: v for k, v in data.get(absent, {}).items() if k not in fresh.get("ec2", {})}
        if kept:
            data[absent] = kept
        else:
            data.pop(absent, None)


def build_book(
    offer_files: Iterable[Iterable[bytes | str]], regions: Iterable[str], fallback: AwsPriceBook
) -> AwsPriceBook:
    """Parse every offer file (each an iterable of chunks) and build the refreshed book."""
    collector = Collector(frozenset(regions))
    for chunks in offer_files:
        collector.parse(chunks)
    return collector.build(fallback)

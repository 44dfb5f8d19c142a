"""Regenerates the bundled Azure price snapshot: VM prices from karpenter and the ec2instances.info data.

Usage::

    git -C <mirror> show <commit>:pkg/providers/pricing/zz_generated.pricing.go > /tmp/prices.go
    python tools/gen_azure_prices.py --karpenter-table /tmp/prices.go --commit <commit> \\
        [--ec2-instances-info DIR]

Inputs, each recorded as its table's source:
- ``vm.linux``: Azure/karpenter-provider-azure ``pkg/providers/pricing/zz_generated.pricing.go`` (data
  only: region -> ARM size -> USD per hour; ``Standard_*`` sizes kept). Without ``--karpenter-table``
  the table and its source are carried over from the committed snapshot. It is kept over the
  ec2instances.info Linux figures: generated later (2026-06 against 2025-05), in ARM names directly,
  for more regions. Checked against those figures, though, some families hold Windows prices (the
  karpenter figure equals the source's Windows price and not its Linux one); every size of such a
  family is left out of vm.linux in every region, and the table's source says which and why.
- ``vm.linux`` supplement: the same ec2instances.info data's Linux ``ondemand`` figures, for the
  (region, size) pairs the karpenter table lacks or whose figures were left out. Kept apart in each
  region (``vmSupplement``) with its own recorded source, so every figure's basis can be named.
- ``vm.windows``: the ec2instances.info data in the Go module github.com/cristim/ec2-instances-info
  (``data/azure-instances.json``, pay-as-you-go ``ondemand`` per region slug; see
  ``tools/ec2_instances_info.py``). Region slugs map to ARM names by a public table; sizes take the
  ARM name their two names in the data agree on (see ``arm_name``). Regions without a mapped slug or
  without Windows prices record why in ``unpriced``.

Nothing of either source is committed; only the numbers.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import ec2_instances_info as info
from cloudios.pricing.azure.book import AzurePriceBook, AzureRegionPrices, TableSource, dump_book, parse_book

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "operator" / "cloudios" / "pricing" / "azure" / "data" / "azure-prices.json"
REPO = "https://github.com/Azure/karpenter-provider-azure"
PATH = "pkg/providers/pricing/zz_generated.pricing.go"
_REGION = re.compile(r'^\s*initialOnDemandPrices\["(?P<region>[a-z0-9]+)"\] = map\[string\]float64\{')
_PRICE = re.compile(r'^\s*"(?P<size>[^"]+)":\s*(?P<price>[0-9.]+),')
_GENERATED = re.compile(r"^// generated at (?P<at>\S+)")
LINUX_SUPPLEMENT_METHOD = (
    "azure-instances.json pricing.<slug>.linux.ondemand (the azure.microsoft.com pricing pages' "
    f"pay-as-you-go 'perhour' for Linux; {info.SCRAPER} azurevms.py add_pricing2() at "
    f"{info.SCRAPER_COMMIT[:12]}), for the (region, size) pairs vm.linux's main source lacks or whose "
    "figures were left out. Region slug and size names as for vm.windows. A figure not below the same "
    "size's Windows price in the same data is left out (a Linux price is the Windows price less the "
    "license, so such a figure cannot be told to be the Linux one)."
)
WINDOWS_METHOD = (
    "azure-instances.json pricing.<slug>.windows.ondemand (the azure.microsoft.com pricing pages' "
    f"pay-as-you-go 'perhour', Windows license included; {info.SCRAPER} azurevms.py add_pricing2() at "
    f"{info.SCRAPER_COMMIT[:12]}). Region slug -> ARM name: {info.AZURE_MAPPING_SOURCE}. Size -> ARM "
    "name: the entry's pretty_name_azure ('Standard D2s v5', 'B2s v2', 'Basic A0') with 'Standard_' "
    "(or 'Basic_') and underscores for spaces, kept only when it agrees with pretty_name (the name "
    "the pricing page gives); a name no VM has is never matched, so it prices nothing."
)
NOTES = [
    (
        "Pay-as-you-go (Consumption) list prices in USD; no reservations, savings plans or Azure Hybrid "
        "Benefit."
    ),
    (
        "VM prices are per hour: vm.linux compute only; vm.windows with the Windows Server license "
        "included. Each table records its source and date (tables); a region without a table's prices "
        "says why (unpriced)."
    ),
    (
        "The Linux source does not exclude Cloud Services or dedicated-host meters of the same ARM size; "
        "where several Consumption meters share a size, the table holds the one the source kept."
    ),
    (
        "Managed disks, snapshots, public IPs and load balancers: no bundled prices (no machine-readable "
        "public record was at hand when this snapshot was built); refresh to price them."
    ),
]


def parse(text: str) -> tuple[datetime, dict[str, dict[str, Decimal]]]:
    """(generation time, region -> ARM size -> hourly USD) from the karpenter Go table."""
    generated: datetime | None = None
    regions: dict[str, dict[str, Decimal]] = {}
    current: dict[str, Decimal] | None = None
    for line in text.splitlines():
        if (match := _GENERATED.match(line)) is not None:
            generated = datetime.fromisoformat(match["at"])
        elif (match := _REGION.match(line)) is not None:
            current = regions.setdefault(match["region"], {})
        elif current is not None and (match := _PRICE.match(line)) is not None:
            size = match["size"]
            if size.startswith("Standard_") and " " not in size:
                current[size] = Decimal(match["price"]).normalize()
        elif line.strip() == "}":
            current = None
    if generated is None or not regions:
        raise ValueError("not a karpenter-provider-azure price table (no 'generated at' line or no regions)")
    return generated, regions


def linux_table(
    text: str, commit: str, data: list[dict[str, Any]]
) -> tuple[TableSource, dict[str, dict[str, Decimal]]]:
    """vm.linux from the karpenter table, less the families whose figures are Windows prices."""
    generated, regions = parse(text)
    families = {name: str(item.get("family")) for item in data if (name := arm_name(item)) is not None}
    windows_hits = _windows_priced(regions, data)
    left_out = sorted(windows_hits)
    kept = {
        region: {size: p for size, p in sizes.items() if families.get(size) not in windows_hits}
        for region, sizes in regions.items()
    }
    dropped = sum(len(sizes) for sizes in regions.values()) - sum(len(sizes) for sizes in kept.values())
    hits = ", ".join(f"{f} {n[0]} of {n[1]}" for f, n in sorted(windows_hits.items()))
    source = (
        f"{REPO} {PATH} at commit {commit}, generated {generated.isoformat()} by its prices_gen tool from "
        "the Azure Retail Prices API (priceType Consumption, currencyCode USD, serviceName Virtual "
        "Machines; Windows products, Spot and Low Priority meters excluded); converted by "
        f"tools/gen_azure_prices.py (Standard_* ARM size names only; families {', '.join(left_out) or '-'} "
        f"left out: {dropped} figures)."
    )
    method = (
        f"Cross-checked against the ec2instances.info data in {info.MODULE}@{info.VERSION} "
        f"({info.DATE}, regions mapped by {info.AZURE_MAPPING_SOURCE}): where a figure equals that "
        "data's Windows pay-as-you-go price and not its Linux one, the karpenter table holds a Windows "
        "price; every size of a family with such figures is left out of vm.linux in every region, and "
        "priced from the table's supplement where that data has its Linux figure "
        f"(Windows-priced pairs of the pairs checked: {hits or 'none'})."
    )
    return TableSource(source=source, date=generated.date(), method=method), kept


def _windows_priced(
    regions: dict[str, dict[str, Decimal]], data: list[dict[str, Any]]
) -> dict[str, tuple[int, int]]:
    """Family -> (figures equal to the source's Windows price and not its Linux one, figures checked)."""
    found: dict[str, list[int]] = {}
    for item in data:
        name = arm_name(item)
        for region, slug in info.AZURE_SLUGS.items():
            figure = regions.get(region, {}).get(name or "")
            offers = (item.get("pricing") or {}).get(slug, {})
            linux, windows = info.price(offers.get("linux")), info.price(offers.get("windows"))
            if figure is None or linux is None:
                continue
            counts = found.setdefault(str(item.get("family")), [0, 0])
            counts[1] += 1
            counts[0] += int(figure == windows and figure != linux)
    return {family: (hits, checked) for family, (hits, checked) in found.items() if hits}


def arm_name(item: dict[str, Any]) -> str | None:
    """The ARM size name of an azure-instances.json entry, or None when its two names disagree."""
    azure = str(item.get("pretty_name_azure") or "")
    tier, rest = ("Standard", azure)
    if azure.startswith(("Standard ", "Basic ")):
        tier, _, rest = azure.partition(" ")
    if not rest or rest != item.get("pretty_name"):
        return None
    return f"{tier}_{rest.replace(' ', '_')}"


def linux_supplement(
    data: list[dict[str, Any]], main: dict[str, dict[str, Decimal]]
) -> tuple[dict[str, dict[str, Decimal]], int]:
    """(region -> ARM size -> USD per hour where ``main`` lacks the size, figures not below Windows)."""
    names = {item["instance_type"]: name for item in data if (name := arm_name(item)) is not None}
    found: dict[str, dict[str, Decimal]] = {}
    refused = 0
    for region, sizes in main.items():
        slug = info.AZURE_SLUGS.get(region)
        for item in data:
            name = names.get(item["instance_type"])
            offers = (item.get("pricing") or {}).get(slug or "", {})
            linux, windows = info.price(offers.get("linux")), info.price(offers.get("windows"))
            if name is None or linux is None or name in sizes:
                continue
            if windows is not None and linux >= windows:
                refused += 1
                continue
            found.setdefault(region, {})[name] = linux
    return {region: dict(sorted(sizes.items())) for region, sizes in sorted(found.items())}, refused


def windows_table(
    data: list[dict[str, Any]], regions: list[str]
) -> tuple[dict[str, dict[str, Decimal]], dict[str, str], int]:
    """(region -> ARM size -> hourly USD, region -> why it has none, sizes left out: names disagree)."""
    names = {item["instance_type"]: name for item in data if (name := arm_name(item)) is not None}
    prices: dict[str, dict[str, Decimal]] = {}
    reasons: dict[str, str] = {}
    for region in regions:
        slug = info.AZURE_SLUGS.get(region)
        found: dict[str, Decimal] = {}
        for item in data:
            price = info.price((item.get("pricing") or {}).get(slug or "", {}).get("windows"))
            if price is not None and item["instance_type"] in names:
                found[names[item["instance_type"]]] = price
        if found:
            prices[region] = dict(sorted(found.items()))
        elif slug is None:
            reasons[region] = (
                f"the Windows source ({info.MODULE}@{info.VERSION}) names regions by the pricing pages' "
                f"slugs, and the public slug mapping used ({info.AZURE_MAPPING_SOURCE}) has none for "
                f"{region}; run 'cloudios prices refresh --provider azure --regions {region}'"
            )
        else:
            reasons[region] = (
                f"{info.MODULE}@{info.VERSION} (ec2instances.info data of {info.DATE}) lists no Windows "
                f"prices for {slug}; run 'cloudios prices refresh --provider azure --regions {region}'"
            )
    return prices, reasons, len(data) - len(names)


def build(
    current: AzurePriceBook,
    data: list[dict[str, Any]],
    linux: tuple[TableSource, dict[str, dict[str, Decimal]]] | None,
) -> AzurePriceBook:
    """The new snapshot: vm.linux from karpenter (or carried over) and its supplement, vm.windows."""
    linux_source, linux_prices = linux or (
        current.tables["vm.linux"].model_copy(update={"supplement": None}),
        {name: region.vm.get("linux", {}) for name, region in current.regions.items()},
    )
    regions = sorted(linux_prices)
    windows, reasons, disagree = windows_table(data, regions)
    supplement, refused = linux_supplement(data, linux_prices)
    without = sorted(r for r in regions if r not in supplement)
    linux_source = linux_source.model_copy(
        update={
            "supplement": TableSource(
                source=f"ec2instances.info data in the Go module {info.MODULE}@{info.VERSION}, "
                "data/azure-instances.json: Linux pay-as-you-go USD per hour per region slug and size, "
                f"for sizes the main source lacks in a region ({sum(len(p) for p in supplement.values())} "
                f"prices in {len(supplement)} regions; none in {', '.join(without) or '-'}: no public "
                f"slug mapping or no Linux prices there; {refused} figures left out that are not below "
                "the Windows price)",
                date=date.fromisoformat(info.DATE),
                module=info.MODULE,
                version=info.VERSION,
                download=info.DOWNLOAD,
                sha256=info.ZIP_SHA256,
                dirhash=info.DIRHASH,
                path="data/azure-instances.json",
                method=LINUX_SUPPLEMENT_METHOD,
            )
        }
    )
    windows_source = TableSource(
        source=f"ec2instances.info data in the Go module {info.MODULE}@{info.VERSION}, "
        f"data/azure-instances.json: Windows pay-as-you-go USD per hour per region slug and size "
        f"({sum(len(p) for p in windows.values())} prices in {len(windows)} regions; {disagree} sizes "
        "left out whose two names disagree)",
        date=date.fromisoformat(info.DATE),
        module=info.MODULE,
        version=info.VERSION,
        download=info.DOWNLOAD,
        sha256=info.ZIP_SHA256,
        dirhash=info.DIRHASH,
        path="data/azure-instances.json",
        method=WINDOWS_METHOD,
    )
    tables = {"vm.linux": linux_source, "vm.windows": windows_source}
    return AzurePriceBook(
        date=min(t.date for t in tables.values()),
        source=f"VM prices from public data: Linux from {REPO} (generated {linux_source.date}), the sizes "
        f"it lacks and Windows from the ec2instances.info data in {info.MODULE}@{info.VERSION} "
        f"({info.DATE}); the other "
        "tables are empty until `cloudios prices refresh --provider azure` fills them from the Azure "
        "Retail Prices API, so findings that need them are reported unpriced.",
        notes=NOTES,
        tables=tables,
        regions={
            region: _region(
                linux_prices[region], supplement.get(region), windows.get(region), reasons.get(region)
            )
            for region in regions
        },
    )


def _region(
    linux: dict[str, Decimal],
    supplement: dict[str, Decimal] | None,
    windows: dict[str, Decimal] | None,
    reason: str | None,
) -> AzureRegionPrices:
    vm = {"linux": dict(sorted(linux.items()))}
    if windows:
        vm["windows"] = windows
    return AzureRegionPrices(
        vm=vm,
        vm_supplement={"linux": supplement} if supplement else {},
        unpriced={"vm.windows": reason} if reason else {},
    )


def generate(info_dir: Path, karpenter: tuple[str, str] | None, current: AzurePriceBook) -> AzurePriceBook:
    """The snapshot from the checked source directory and the karpenter (text, commit), or carried Linux."""
    data = info.load(info.check(info_dir), "azure-instances.json")
    linux = None if karpenter is None else linux_table(karpenter[0], karpenter[1], data)
    return build(current, data, linux)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--karpenter-table", type=Path, help="the zz_generated.pricing.go file (optional)")
    parser.add_argument("--commit", help="the commit the karpenter table was read at")
    parser.add_argument("--ec2-instances-info", type=Path, default=info.DEFAULT_DIR)
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    if args.karpenter_table is not None and not args.commit:
        parser.error("--karpenter-table needs --commit")
    karpenter = None
    if args.karpenter_table is not None:
        karpenter = (args.karpenter_table.read_text(encoding="utf-8"), args.commit)
    current = parse_book(TARGET.read_text(encoding="utf-8"))
    try:
        book = generate(args.ec2_instances_info, karpenter, current)
    except info.SourceError as exc:
        sys.stderr.write(f"gen_azure_prices: {exc}\n")
        return 2
    args.output.write_text(dump_book(book), encoding="utf-8")
    sys.stdout.write(f"wrote {args.output}: {book.count()} prices in {len(book.regions)} regions\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

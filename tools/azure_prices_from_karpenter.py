"""Convert Azure/karpenter-provider-azure's generated VM price table into Cloudios' Azure price snapshot.

Reads the Go source ``pkg/providers/pricing/zz_generated.pricing.go`` (data only: region -> ARM size
-> USD per hour), keeps the ``Standard_*`` ARM size names, and writes
``operator/cloudios/pricing/azure/data/azure-prices.json`` with the source, the commit and the
table's generation date recorded. Nothing of that repository's code is copied; only its numbers.

    git -C <mirror> show <commit>:pkg/providers/pricing/zz_generated.pricing.go > /tmp/prices.go
    python tools/azure_prices_from_karpenter.py /tmp/prices.go --commit <commit>
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from cloudios.pricing.azure.book import AzurePriceBook, AzureRegionPrices, TableSource, dump_book

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "operator" / "cloudios" / "pricing" / "azure" / "data" / "azure-prices.json"
REPO = "https://github.com/Azure/karpenter-provider-azure"
PATH = "pkg/providers/pricing/zz_generated.pricing.go"
_REGION = re.compile(r'^\s*initialOnDemandPrices\["(?P<region>[a-z0-9]+)"\] = map\[string\]float64\{')
_PRICE = re.compile(r'^\s*"(?P<size>[^"]+)":\s*(?P<price>[0-9.]+),')
_GENERATED = re.compile(r"^// generated at (?P<at>\S+)")


def parse(text: str) -> tuple[datetime, dict[str, dict[str, Decimal]]]:
    """(generation time, region -> ARM size -> hourly USD) from the Go table."""
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


def build(text: str, commit: str) -> AzurePriceBook:
    generated, regions = parse(text)
    source = (
        f"{REPO} {PATH} at commit {commit}, generated {generated.isoformat()} by its prices_gen tool from "
        "the Azure Retail Prices API (priceType Consumption, currencyCode USD, serviceName Virtual "
        "Machines; Windows products, Spot and Low Priority meters excluded); converted by "
        "tools/azure_prices_from_karpenter.py (Standard_* ARM size names only)."
    )
    return AzurePriceBook(
        date=generated.date(),
        source=f"VM Linux pay-as-you-go prices from {REPO} (generated {generated.date()}); the other "
        "tables are empty until `cloudios prices refresh --provider azure` fills them from the "
        "Azure Retail Prices API, so findings that need them are reported unpriced.",
        notes=[
            (
                "Pay-as-you-go (Consumption) list prices in USD; no reservations, savings plans or "
                "Azure Hybrid Benefit."
            ),
            (
                "VM prices are compute only, Linux; Windows VMs are unpriced in this snapshot (its "
                "source skips Windows products)."
            ),
            (
                "The source does not exclude Cloud Services or dedicated-host meters of the same ARM size; "
                "where several Consumption meters share a size, the table holds the one the source kept."
            ),
            (
                "Managed disks, snapshots, public IPs and load balancers: no bundled prices (no "
                "machine-readable public record was at hand when this snapshot was built); refresh "
                "to price them."
            ),
        ],
        tables={"vm.linux": TableSource(source=source, date=generated.date())},
        regions={
            region: AzureRegionPrices(vm={"linux": dict(sorted(prices.items()))})
            for region, prices in sorted(regions.items())
        },
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", type=Path, help="the zz_generated.pricing.go file")
    parser.add_argument("--commit", required=True, help="the commit the file was read at")
    parser.add_argument("--output", type=Path, default=TARGET)
    args = parser.parse_args(argv)
    book = build(args.table.read_text(encoding="utf-8"), args.commit)
    args.output.write_text(dump_book(book), encoding="utf-8")
    sys.stdout.write(f"wrote {args.output}: {book.count()} prices in {len(book.regions)} regions\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`cloudios prices`'s options and help."""

from __future__ import annotations

import argparse
from pathlib import Path

from cloudios.cli.commands import SubParsers, command

DEFAULT_OUTPUT = Path("cloudios-prices.json")
PROVIDERS = ("aws", "gcp", "azure")
# The refresh modules' own values (cloudios.pricing.{aws,azure}.refresh; a test keeps them equal),
# repeated here so that --help does not import the pricing packages.
AWS_OFFER_URL = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/{offer}/current/{region}/index.json"
AZURE_API = "https://prices.azure.com/api/retail/prices"
AWS_DEFAULT_REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-1",
    "ap-northeast-1",
)
AZURE_DEFAULT_REGIONS = (
    "eastus",
    "eastus2",
    "westus2",
    "westeurope",
    "northeurope",
    "uksouth",
    "southeastasia",
)


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "prices",
        summary="show or refresh the price snapshot used for savings",
        description="Show the bundled (or a refreshed) price snapshot, or build a new one from the "
        "clouds' public price lists. See docs/pricing.md.",
        examples=(
            "cloudios prices show --provider azure",
            "cloudios prices refresh --regions us-east-1 eu-west-1 --output prices.json",
            "cloudios scan -f team-a.yaml --prices prices.json",
        ),
    )
    commands = p.add_subparsers(dest="prices_command", required=True, metavar="{refresh,show}")
    r = command(
        commands,
        "refresh",
        summary="build a price snapshot from the AWS Price List bulk API or the Azure Retail Prices API",
        description="AWS: download the per-region AmazonEC2, AmazonRDS, AWSELB and AmazonVPC offer files "
        f"({AWS_OFFER_URL}). Azure: page through {AZURE_API} (VMs, managed disks, "
        "snapshots, public IPs, load balancers). Or read them from --from-dir; write a price snapshot.",
        examples=(
            "cloudios prices refresh --regions us-east-1 --output prices.json",
            "cloudios prices refresh --provider azure --from-dir ./azure-pages",
        ),
    )
    r.add_argument("--provider", choices=PROVIDERS, default="aws", help="whose prices (default aws)")
    r.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        metavar="PATH",
        help=f"where to write the snapshot (default ./{DEFAULT_OUTPUT})",
    )
    r.add_argument(
        "--regions",
        nargs="+",
        metavar="REGION",
        help=f"regions to refresh (default aws: {' '.join(AWS_DEFAULT_REGIONS)}; "
        f"azure: {' '.join(AZURE_DEFAULT_REGIONS)})",
    )
    r.add_argument(
        "--from-dir",
        type=Path,
        metavar="DIR",
        help="read already-downloaded files instead of downloading: aws DIR/<offer>/<region>/index.json, "
        "azure DIR/*.json (Retail Prices API pages)",
    )
    s = command(
        commands,
        "show",
        summary="print the snapshot's date, source and price counts",
        description="Print the price snapshot's date, source and price counts.",
        examples=("cloudios prices show", "cloudios prices show --path prices.json"),
    )
    s.add_argument(
        "--provider", choices=PROVIDERS, default="aws", help="whose bundled snapshot (default aws)"
    )
    s.add_argument(
        "--path", type=Path, metavar="PATH", help="a refreshed snapshot (default: the bundled one)"
    )

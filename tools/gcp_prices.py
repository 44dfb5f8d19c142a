"""Regenerate the bundled GCP price snapshot from a downloaded pricing.yml (see pricing/gcp/refresh.py).

    python tools/gcp_prices.py PATH/TO/pricing.yml [--revision COMMIT]

Writes operator/cloudios/pricing/gcp/data/gcp-prices.json; the source string records the file's
revision so a reader can fetch exactly the data the snapshot came from.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cloudios.pricing.gcp import dump_book
from cloudios.pricing.gcp.refresh import DEFAULT_REGIONS, SOURCE, convert

OUTPUT = Path(__file__).resolve().parents[1] / "operator/cloudios/pricing/gcp/data/gcp-prices.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a pricing.yml file")
    parser.add_argument("--revision", help="git revision of the file in its repository")
    parser.add_argument("--all-regions", action="store_true", help="every region, not the default list")
    args = parser.parse_args()
    source = f"{SOURCE}, revision {args.revision}" if args.revision else SOURCE
    book = convert(
        args.source.read_text(encoding="utf-8"),
        regions=None if args.all_regions else DEFAULT_REGIONS,
        source=source,
    )
    OUTPUT.write_text(dump_book(book), encoding="utf-8")
    print(f"wrote {OUTPUT}: {book.count()} prices of {book.date}")


if __name__ == "__main__":
    main()

"""`cloudios prices`: show the AWS price snapshot in use, or refresh it from the AWS Price List."""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

from pydantic import ValidationError

from cloudios.pricing import aws as aws_pricing
from cloudios.pricing._jsonstream import JsonStreamError, read_chunks
from cloudios.pricing.aws import refresh

EXIT_OK, EXIT_INPUT = 0, 2
DEFAULT_OUTPUT = Path("cloudios-prices.json")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
TIMEOUT_SECONDS = 60.0


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("prices", help="show or refresh the AWS price snapshot used for savings")
    commands = p.add_subparsers(dest="prices_command", required=True, metavar="{refresh,show}")
    r = commands.add_parser(
        "refresh",
        help="build a price snapshot from the AWS Price List bulk API",
        description="Download the per-region AmazonEC2, AmazonRDS, AWSELB and AmazonVPC offer files "
        f"({refresh.OFFER_URL}) or read them from --from-dir, and write a price snapshot.",
    )
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
        default=list(refresh.DEFAULT_REGIONS),
        metavar="REGION",
        help="regions to refresh (default: %(default)s)",
    )
    r.add_argument(
        "--from-dir",
        type=Path,
        metavar="DIR",
        help="read already-downloaded files DIR/<offer>/<region>/index.json instead of downloading",
    )
    s = commands.add_parser("show", help="print the snapshot's date, source and price counts")
    s.add_argument(
        "--path", type=Path, metavar="PATH", help="a refreshed snapshot (default: the bundled one)"
    )


def run(args: argparse.Namespace) -> int:
    if args.prices_command == "show":
        return _show(args.path)
    return _refresh(args.output, list(args.regions), args.from_dir)


def _fail(message: str) -> int:
    sys.stderr.write(f"cloudios prices: {message}\n")
    return EXIT_INPUT


def _show(path: Path | None) -> int:
    try:
        book = (
            aws_pricing.bundled()
            if path is None
            else aws_pricing.parse_book(path.read_text(encoding="utf-8"))
        )
    except (OSError, ValueError, ValidationError) as exc:
        return _fail(f"{path}: not a readable price snapshot ({_first_line(exc)})")
    where = str(path) if path is not None else "bundled"
    out = [
        f"snapshot: {where}",
        f"provider: {book.provider}, date: {book.date}",
        f"basis: {book.basis} (on-demand), currency: {book.currency}",
        f"prices: {book.count()} in {len(book.regions)} regions",
        f"source: {book.source}",
    ]
    out += [f"  {name}: {r.count()} prices; {r.source}" for name, r in book.regions.items()]
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


def _refresh(output: Path, regions: list[str], from_dir: Path | None) -> int:
    bad = [r for r in regions if not REGION.match(r)]
    if bad:
        return _fail(f"--regions: {', '.join(bad)} are not AWS region names like us-east-1")
    bundled = aws_pricing.bundled()
    collector = refresh.Collector(frozenset(regions))
    try:
        if from_dir is not None:
            parsed = _parse_dir(collector, from_dir, regions)
            if not parsed:
                return _fail(
                    f"--from-dir {from_dir}: no offer file found (expected "
                    f"{from_dir}/<offer>/<region>/index.json for offers {', '.join(refresh.OFFERS)})"
                )
        else:
            failure = _download(collector, regions)
            if failure:
                return _fail(f"{failure}; the bundled price snapshot ({bundled.date}) stays in use")
    except JsonStreamError as exc:
        return _fail(f"an offer file is not valid Price List JSON: {exc}")
    book = collector.build(bundled)
    _write(output, aws_pricing.dump_book(book))
    sys.stdout.write(
        f"wrote {output}: {book.count()} prices, {len(regions)} regions refreshed, "
        f"price list of {book.date}\n"
    )
    if collector.conflicts:
        sys.stderr.write(f"note: {collector.conflicts} duplicate products kept their first price\n")
    return EXIT_OK


def _parse_dir(collector: refresh.Collector, root: Path, regions: list[str]) -> int:
    parsed = 0
    for offer in refresh.OFFERS:
        for region in regions:
            path = root / offer / region / "index.json"
            if not path.is_file():
                sys.stderr.write(f"note: {path} missing; its prices stay as they were\n")
                continue
            with path.open("rb") as stream:
                collector.parse(read_chunks(stream))
            parsed += 1
    return parsed


def _download(collector: refresh.Collector, regions: list[str]) -> str | None:
    """Stream every offer file into the collector; a message on the first network failure."""
    import httpx  # noqa: PLC0415 - only this command needs the HTTP client

    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True) as client:
        for offer in refresh.OFFERS:
            for region in regions:
                url = refresh.OFFER_URL.format(offer=offer, region=region)
                sys.stderr.write(f"downloading {offer} {region} ...\n")
                try:
                    with client.stream("GET", url) as response:
                        response.raise_for_status()
                        collector.parse(response.iter_bytes())
                except httpx.HTTPError as exc:
                    return f"could not download {url}: {_first_line(exc) or type(exc).__name__}"
    return None


def _write(path: Path, text: str) -> None:
    """Write atomically: a half-written snapshot never replaces a good one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    Path(tmp).replace(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""

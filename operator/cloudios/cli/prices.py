"""`cloudios prices`: show a price snapshot, or refresh one from AWS, GCP or Azure public price data."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from cloudios.pricing import aws as aws_pricing
from cloudios.pricing import azure as azure_pricing
from cloudios.pricing import gcp as gcp_pricing
from cloudios.pricing import load_book
from cloudios.pricing._jsonstream import JsonStreamError, read_chunks
from cloudios.pricing.aws import refresh
from cloudios.pricing.azure import refresh as azure_refresh
from cloudios.pricing.gcp import refresh as gcp_refresh

EXIT_OK, EXIT_INPUT = 0, 2
DEFAULT_OUTPUT = Path("cloudios-prices.json")
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
AZURE_REGION = re.compile(r"^[a-z][a-z0-9]+$")
GCP_REGION = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
PROVIDERS = ("aws", "gcp", "azure")
TIMEOUT_SECONDS = 60.0


def run(args: argparse.Namespace) -> int:
    if args.prices_command == "show":
        if args.path is None and args.provider == "gcp":
            return _show_gcp(gcp_pricing.bundled(), "bundled")
        return _show(args.path) if args.provider == "aws" or args.path is not None else _show_azure()
    if args.provider == "azure":
        regions = list(args.regions or azure_refresh.DEFAULT_REGIONS)
        return _refresh_azure(args.output, regions, args.from_dir)
    if args.provider == "gcp":
        return _refresh_gcp(args.output, list(args.regions or gcp_refresh.DEFAULT_REGIONS), args.from_dir)
    return _refresh(args.output, list(args.regions or refresh.DEFAULT_REGIONS), args.from_dir)


def _fail(message: str) -> int:
    sys.stderr.write(f"cloudios prices: {message}\n")
    return EXIT_INPUT


def _show(path: Path | None) -> int:
    try:
        found = aws_pricing.bundled() if path is None else load_book(path)
    except (OSError, ValueError, ValidationError) as exc:
        return _fail(f"{path}: not a readable price snapshot ({_first_line(exc)})")
    if isinstance(found, azure_pricing.AzurePriceBook):
        return _show_azure(found, str(path))
    if isinstance(found, gcp_pricing.GcpPriceBook):
        return _show_gcp(found, str(path))
    if not isinstance(found, aws_pricing.AwsPriceBook):
        return _fail(f"{path}: not a snapshot this command can show")
    book = found
    where = str(path) if path is not None else "bundled"
    out = [
        f"snapshot: {where}",
        f"provider: {book.provider}, date: {book.date}",
        f"basis: {book.basis} (on-demand), currency: {book.currency}",
        f"prices: {book.count()} in {len(book.regions)} regions",
        f"source: {book.source}",
    ]
    out += [
        f"  {name}: {r.count()} prices; {len(r.tables)} tables with a basis, {len(r.unpriced)} unpriced; "
        f"{r.source}"
        for name, r in book.regions.items()
    ]
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


def _show_gcp(book: gcp_pricing.GcpPriceBook, where: str) -> int:
    out = [
        f"snapshot: {where}",
        f"provider: {book.provider}, date: {book.date}",
        f"basis: {book.basis} (on-demand), currency: {book.currency}",
        f"prices: {book.count()}",
        f"source: {book.source}",
    ]
    for name, t in book.tables.items():
        out.append(f"  table {name}: {t.date}; {len(t.prices)} regions; {t.unit}")
        out += [f"    unpriced {key}: {why}" for key, why in t.unpriced.items()]
    out += [f"  no {name} table: {why}" for name, why in book.unpriced.items()]
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


def _show_azure(book: azure_pricing.AzurePriceBook | None = None, where: str = "bundled") -> int:
    book = book or azure_pricing.bundled()
    out = [
        f"snapshot: {where}",
        f"provider: {book.provider}, date: {book.date}",
        f"basis: {book.basis} (pay-as-you-go), currency: {book.currency}",
        f"prices: {book.count()} in {len(book.regions)} regions",
        f"source: {book.source}",
    ]
    for name, t in book.tables.items():
        out.append(f"  table {name}: {t.date}; {t.source}")
        if t.supplement is not None:
            extra = t.supplement
            out.append(f"    supplement (sizes the table's source lacks): {extra.date}; {extra.source}")
    for name, region in book.regions.items():
        if region.sources:
            own = "; ".join(f"{t}: {s.date}, {s.source}" for t, s in region.sources.items())
            out.append(f"  region {name} (its own sources): {own}")
    missing = [t for t in azure_pricing.book.TABLES if t not in book.tables]
    if missing:
        out.append(f"  no prices (findings needing them are unpriced): {', '.join(missing)}")
    sys.stdout.write("\n".join(out) + "\n")
    return EXIT_OK


def _refresh_azure(output: Path, regions: list[str], from_dir: Path | None) -> int:
    bad = [r for r in regions if not AZURE_REGION.match(r)]
    if bad:
        return _fail(f"--regions: {', '.join(bad)} are not Azure region names like westeurope")
    collector = azure_refresh.Collector(frozenset(regions))
    try:
        if from_dir is not None:
            files = sorted(from_dir.glob("*.json"))
            if not files:
                return _fail(f"--from-dir {from_dir}: no *.json Retail Prices API pages found")
            for page in azure_refresh.pages(json.loads(f.read_text(encoding="utf-8")) for f in files):
                collector.add(page)
            source = f"Azure Retail Prices API pages read from {from_dir}"
        else:
            failure = _download_azure(collector, regions)
            if failure:
                return _fail(f"{failure}; the bundled price snapshot stays in use")
            source = "Azure Retail Prices API"
    except (OSError, ValueError) as exc:
        return _fail(f"a Retail Prices API page could not be read: {_first_line(exc)}")
    book = collector.build(azure_pricing.bundled(), datetime.now(UTC).date(), source)
    _write(output, azure_pricing.dump_book(book))
    tables = ", ".join(sorted(collector.seen_tables)) or "none"
    sys.stdout.write(f"wrote {output}: {book.count()} prices; refreshed tables: {tables}\n")
    return EXIT_OK


def _refresh_gcp(output: Path, regions: list[str], from_dir: Path | None) -> int:
    """GCP: Cyclenerd's pricing.yml (Cloud Billing Catalog data), read from --from-dir or downloaded."""
    bad = [r for r in regions if not GCP_REGION.match(r)]
    if bad:
        return _fail(f"--regions: {', '.join(bad)} are not GCP region names like europe-west1")
    if from_dir is not None:
        path = from_dir / "pricing.yml"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"--from-dir {from_dir}: cannot read pricing.yml: {_first_line(exc)}")
        source = f"{gcp_refresh.SOURCE}, read from {path}"
    else:
        import httpx  # noqa: PLC0415 - only this command needs the HTTP client

        try:
            response = httpx.get(gcp_refresh.SOURCE_URL, timeout=TIMEOUT_SECONDS, follow_redirects=True)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            reason = _first_line(exc) or type(exc).__name__
            where = gcp_refresh.SOURCE_URL
            return _fail(f"could not download {where}: {reason}; the bundled price snapshot stays in use")
        text, source = response.text, gcp_refresh.SOURCE
    try:
        book = gcp_refresh.convert(text, regions=regions, source=source)
    except gcp_refresh.SourceError as exc:
        return _fail(f"the GCP price source could not be used: {exc}")
    _write(output, gcp_pricing.dump_book(book))
    sys.stdout.write(f"wrote {output}: {book.count()} prices in {len(regions)} regions (as of {book.date})\n")
    return EXIT_OK


def _download_azure(collector: azure_refresh.Collector, regions: list[str]) -> str | None:
    import httpx  # noqa: PLC0415 - only this command needs the HTTP client

    urls = [azure_refresh.query_url(what, r) for what, _ in azure_refresh.QUERIES for r in regions]
    urls.append(azure_refresh.query_url("lb", None))
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=True) as client:
        for first in urls:
            url: str | None = first
            while url:
                try:
                    response = client.get(url)
                    response.raise_for_status()
                    page = response.json()
                except (httpx.HTTPError, ValueError) as exc:
                    return f"could not read {url}: {_first_line(exc) or type(exc).__name__}"
                collector.add(page)
                url = page.get("NextPageLink")
    return None


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

"""Regenerates the bundled AWS price snapshot from public data, recording each table's basis.

Usage (the directories are what the Go module proxy's zip and the ``fetch`` tool bring)::

    python tools/gen_aws_prices.py --ec2-instances-info DIR [--karpenter GITDIR]

Inputs, each recorded per table in the snapshot:
- ``--ec2-instances-info``: the unpacked Go module github.com/cristim/ec2-instances-info at the
  version ``ec2_instances_info.VERSION`` (checked against its h1: hash): on-demand EC2 prices per
  region and platform (Linux, Windows, SUSE, SQL Server Web/Standard/Enterprise on Linux and Windows)
  and Single-AZ RDS prices per region and engine. See ``tools/ec2_instances_info.py`` for how its keys
  map to ours and where each mapping comes from.
- ``--karpenter`` (optional): the git directory of aws/karpenter-provider-aws; its
  ``pkg/providers/pricing/zz_generated.pricing_aws.go`` at HEAD gives us-east-1 Linux prices, kept
  because they are newer (see ``KARPENTER_KEPT``). Without it, the table and its basis are carried
  over from the committed snapshot.
- botocore's endpoint data (the commercial ``aws`` partition's EC2 regions) and EC2 service model
  (the ``InstanceType`` enum): every region gets an entry, every type is priced or explained.
- The committed snapshot: EBS, snapshot, public IPv4, ELB, NAT and RDS storage prices, hand-compiled
  in 2024-12 for seven regions, are carried over with their basis; elsewhere those tables are
  unpriced with the reason.

Nothing of the sources is committed: only the generated snapshot.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ec2_instances_info as info
from cloudios.pricing import aws as aws_pricing
from cloudios.pricing.aws import tables as book_tables

REPOSITORY = "aws/karpenter-provider-aws"
KARPENTER_PATH = "pkg/providers/pricing/zz_generated.pricing_aws.go"
SNAPSHOT = Path(__file__).resolve().parent.parent / "operator/cloudios/pricing/aws/data/aws-prices.json"
KARPENTER_KEPT = (
    "Kept over the ec2instances.info figures for us-east-1 Linux: generated later (2026-07 against "
    "2025-05), so it has the instance types launched since and AWS's price cuts since (p5.48xlarge "
    "55.04 against 98.32 USD/h)."
)
_REGION = re.compile(r'^\t"([a-z0-9-]+)": \{$', re.MULTILINE)
_PRICE = re.compile(r'"([a-z0-9-]+\.[a-z0-9-]+)":\s*([0-9.]+)')
_GENERATED = re.compile(r"// generated at (\S+) for")

# Shared basis records (``bases`` in the snapshot), named by the region tables that use them.
EC2_BASIS = "ec2-instances-info:instances.json"
RDS_BASIS = "ec2-instances-info:rds-instances.json"
LISTED_BASIS = "listed-2024-12"
KARPENTER_BASIS = "karpenter-provider-aws:us-east-1"
LISTED = {
    "kind": "listed",
    "source": "Hand-compiled from AWS's public on-demand pricing pages (EBS, snapshots, public IPv4, "
    "ELB, VPC NAT gateway, RDS storage) around 2024-12 for seven regions; not machine-fetched.",
    "date": "2024-12",
}
CARRIED = ("ebs", "snapshot", "publicIpv4", "elb", "nat", "rdsStorage")
_SECTION = {
    "ebs": "ebs",
    "snapshot": "snapshotGbMonth",
    "publicIpv4": "publicIpv4Hourly",
    "elb": "elbHourly",
    "nat": "natGatewayHourly",
    "rdsStorage": "rdsStorageGbMonth",
}
_PLATFORM_WORDS = {
    book_tables.ec2_table_key(os_name, edition): book_tables.OS_NAMES[os_name]
    + (f" with SQL Server {book_tables.SQL_EDITIONS[edition]}" if edition else "")
    for os_name in book_tables.OS_NAMES
    for edition in (None, *book_tables.SQL_EDITIONS)
}


def parse_karpenter_table(text: str) -> dict[str, dict[str, Decimal]]:
    """Region -> instance type -> USD per hour, from the Go map literal's text."""
    starts = [(m.group(1), m.end()) for m in _REGION.finditer(text)]
    found: dict[str, dict[str, Decimal]] = {}
    for i, (region, start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(text)
        body = text[start:end]
        found[region] = {t: Decimal(p).normalize() for t, p in _PRICE.findall(body) if Decimal(p) > 0}
    return found


def _git(gitdir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", str(gitdir), *args], check=True, capture_output=True, text=True
    ).stdout


def _botocore() -> tuple[list[str], list[str]]:
    import botocore.session  # noqa: PLC0415 - a tool's own import

    session = botocore.session.get_session()
    partition = next(p for p in session.get_data("endpoints")["partitions"] if p["partition"] == "aws")
    regions = sorted(r for r in partition["services"]["ec2"]["endpoints"] if r in partition["regions"])
    types = sorted(session.get_service_model("ec2").shape_for("InstanceType").enum)
    return regions, types


def _karpenter(gitdir: Path | None, current: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """us-east-1 Linux prices and their basis: read from the git directory, or carried over."""
    if gitdir is None:
        old = current["regions"]["us-east-1"]
        basis = old["tables"]["ec2.linux"]
        if basis.get("repository") != REPOSITORY:
            raise SystemExit(
                "the committed snapshot's us-east-1 Linux table is not karpenter's: pass --karpenter"
            )
        return dict(old["ec2"]["linux"]), basis
    text = _git(gitdir, "show", f"HEAD:{KARPENTER_PATH}")
    commit, day = _git(gitdir, "log", "-1", "--format=%H %cs", "HEAD", "--", KARPENTER_PATH).split()
    generated = _GENERATED.search(text)
    linux = parse_karpenter_table(text)["us-east-1"]
    basis = {
        "kind": "sourced",
        "source": f"{REPOSITORY} {KARPENTER_PATH} (on-demand Linux, shared tenancy), generated by "
        f"karpenter at {generated.group(1) if generated else 'an unrecorded time'}",
        "repository": REPOSITORY,
        "path": KARPENTER_PATH,
        "commit": commit,
        "date": day,
        "method": KARPENTER_KEPT,
    }
    return {t: str(p) for t, p in sorted(linux.items())}, basis


def _ec2_tables(data: list[dict[str, Any]], regions: set[str]) -> dict[str, dict[str, dict[str, str]]]:
    """Region -> EC2 table key -> instance type -> hourly price, from instances.json."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for item in data:
        for region, platforms in (item.get("pricing") or {}).items():
            if region not in regions:
                continue  # Local Zones, Wavelength, GovCloud
            for platform, key in info.EC2_PLATFORMS.items():
                price = info.price(platforms.get(platform))
                if price is not None:
                    found.setdefault(region, {}).setdefault(key, {})[item["instance_type"]] = str(price)
    return found


def _rds_tables(data: list[dict[str, Any]], regions: set[str]) -> dict[str, dict[str, dict[str, str]]]:
    """Region -> RDS table key -> DB instance class -> Single-AZ hourly price, from rds-instances.json."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for item in data:
        for region, engines in (item.get("pricing") or {}).items():
            if region not in regions:
                continue
            _check_names(item["instance_type"], region, engines)
            for code, key in info.RDS_ENGINES.items():
                price = info.price(engines.get(code))
                if price is not None:
                    found.setdefault(region, {}).setdefault(key, {})[item["instance_type"]] = str(price)
    return found


def _check_names(db_class: str, region: str, engines: dict[str, Any]) -> None:
    """Codes 2, 14 and 18 must price what the scraper also files under the engine's name."""
    for code, name in (("2", "MySQL"), ("14", "PostgreSQL"), ("18", "MariaDB")):
        by_code, by_name = info.price(engines.get(code)), info.price(engines.get(name))
        if by_code != by_name:
            raise SystemExit(f"{db_class} {region}: code {code} {by_code} but {name} {by_name}")


def _no_region(region: str, what: str) -> str:
    return (
        f"no public source on this machine gives {what} prices for {region} ({info.MODULE}@"
        f"{info.VERSION}, data of {info.DATE}, has none there); run 'cloudios prices refresh "
        f"--regions {region}' for AWS's own figures"
    )


def _not_listed(region: str, what: str) -> str:
    return (
        f"{info.MODULE}@{info.VERSION} (ec2instances.info data of {info.DATE}) lists no {what} prices "
        f"in {region}; run 'cloudios prices refresh --regions {region}' for AWS's own figures"
    )


def _no_other(region: str) -> str:
    return (
        f"no public source on this machine gives these prices for {region}: the hand-compiled 2024-12 "
        "figures cover seven regions, and the karpenter and ec2instances.info data hold instance "
        f"prices only; run 'cloudios prices refresh --regions {region}' for AWS's own figures"
    )


def _ec2_section(
    region: str, ec2: dict[str, dict[str, str]] | None, linux: dict[str, str] | None, record: _Record
) -> dict[str, dict[str, str]]:
    section: dict[str, dict[str, str]] = {}
    for key in book_tables.EC2_KEYS:
        name, words = f"ec2.{key}", _PLATFORM_WORDS[key]
        if linux is not None and key == "linux":
            section[key], record.tables[name] = linux, KARPENTER_BASIS
        elif key.startswith("rhel"):
            record.unpriced[name] = info.RHEL_REASON
        elif ec2 is None:
            record.unpriced[name] = _no_region(region, f"{words} instance")
        elif ec2.get(key):
            section[key], record.tables[name] = dict(sorted(ec2[key].items())), EC2_BASIS
        else:
            record.unpriced[name] = _not_listed(region, f"{words} instance")
    return section


def _rds_section(
    region: str, rds: dict[str, dict[str, str]] | None, record: _Record
) -> dict[str, dict[str, str]]:
    section: dict[str, dict[str, str]] = {}
    for key, words in book_tables.RDS_ENGINES.items():
        name = f"rds.{key}"
        if key.endswith(":aurora-iopt1"):
            record.unpriced[name] = info.AURORA_IO_REASON
        elif rds is None:
            record.unpriced[name] = _no_region(region, f"RDS {words}")
        elif rds.get(key):
            section[key], record.tables[name] = dict(sorted(rds[key].items())), RDS_BASIS
        else:
            record.unpriced[name] = _not_listed(region, f"RDS {words}")
    return section


@dataclass
class _Record:
    """A region's table -> basis key, and table -> reason it is unpriced."""

    tables: dict[str, str] = field(default_factory=dict)
    unpriced: dict[str, str] = field(default_factory=dict)


def _region(
    region: str,
    old: dict[str, Any],
    ec2: dict[str, dict[str, str]] | None,
    rds: dict[str, dict[str, str]] | None,
    linux: dict[str, str] | None,
) -> dict[str, Any]:
    record = _Record()
    entry: dict[str, Any] = {
        "ec2": _ec2_section(region, ec2, linux, record),
        "rds": _rds_section(region, rds, record),
    }
    for table in CARRIED:
        section = old.get(_SECTION[table])
        if section and old.get("tables", {}).get(table, {}).get("kind") == "listed":
            entry[_SECTION[table]], record.tables[table] = section, LISTED_BASIS
        else:
            record.unpriced[table] = _no_other(region)
    parts = [
        f"instances: ec2instances.info data ({info.MODULE}@{info.VERSION}, {info.DATE})"
        if ec2 is not None
        else "instances: no source (see unpriced)"
    ]
    if linux is not None:
        parts.append(f"Linux: {REPOSITORY}")
    listed = LISTED_BASIS in record.tables.values()
    parts.append(
        "EBS, snapshots, IPv4, ELB, NAT, RDS storage: " + ("hand-compiled 2024-12" if listed else "none")
    )
    return {
        "source": "; ".join(parts)
        + ". Each table's basis is in tables (and bases), each gap's reason in unpriced.",
        "tables": dict(sorted(record.tables.items())),
        "unpriced": dict(sorted(record.unpriced.items())),
        **{k: v for k, v in entry.items() if v},
    }


def generate(info_dir: Path, karpenter: Path | None, current: dict[str, Any]) -> aws_pricing.AwsPriceBook:
    """The new snapshot from the source directory, karpenter (or the committed table), botocore, current."""
    info.check(info_dir)
    regions, api_types = _botocore()
    ec2 = _ec2_tables(info.load(info_dir, "instances.json"), set(regions))
    rds = _rds_tables(info.load(info_dir, "rds-instances.json"), set(regions))
    linux, karpenter_basis = _karpenter(karpenter, current)
    out: dict[str, Any] = {}
    for region in regions:
        entry = _region(
            region,
            current["regions"].get(region, {}),
            ec2.get(region),
            rds.get(region),
            linux if region == "us-east-1" else None,
        )
        if region == "us-east-1":
            commit = karpenter_basis["commit"][:12]
            why = f"not in {REPOSITORY}'s {region} table at {commit}: not sold on demand here, or retired"
            entry["ec2Absent"] = {"linux": why}
            entry["ec2AbsentTypes"] = {"linux": [t for t in api_types if t not in linux]}
        out[region] = entry
    return aws_pricing.AwsPriceBook.model_validate(
        {
            "date": current["date"],
            "source": "Generated by tools/gen_aws_prices.py from public data: EC2 and RDS instance prices "
            f"from the ec2instances.info data in {info.MODULE}@{info.VERSION} ({info.DATE}); us-east-1 "
            f"Linux from {REPOSITORY} ({karpenter_basis['commit'][:12]}, {karpenter_basis['date']}); EBS, "
            "snapshots, IPv4, ELB, NAT and RDS storage hand-compiled around 2024-12 for seven regions. "
            "Every region of botocore's EC2 endpoints has an entry; each table records its basis "
            "(tables, bases) or why it has none (unpriced). Replace with AWS's own figures: 'cloudios "
            "prices refresh'.",
            "notes": NOTES,
            "bases": {
                EC2_BASIS: info.basis(
                    "data/instances.json",
                    f"ec2instances.info data in the Go module {info.MODULE}@{info.VERSION}, "
                    "data/instances.json: on-demand hourly USD per region, platform and instance type",
                    info.EC2_METHOD,
                ),
                RDS_BASIS: info.basis(
                    "data/rds-instances.json",
                    f"ec2instances.info data in the Go module {info.MODULE}@{info.VERSION}, "
                    "data/rds-instances.json: Single-AZ on-demand hourly USD per region, engine and class",
                    info.RDS_METHOD,
                ),
                KARPENTER_BASIS: karpenter_basis,
                LISTED_BASIS: LISTED,
            },
            "regions": out,
        }
    )


NOTES = [
    "On-demand list prices; no Reserved Instance, Savings Plan, EDP or Free Tier discounts.",
    (
        "EC2: shared tenancy, hourly, license included: Linux, Windows, SUSE, and SQL Server Web, "
        "Standard and Enterprise on Linux and Windows (ec2.<os>-sql-<edition>); RHEL is unpriced (see "
        "unpriced). EBS volumes attached to instances are priced separately."
    ),
    (
        "EBS gp3: IOPS above 3,000 and throughput above 125 MiB/s are billed extra (iopsMonth, "
        "throughputMonth per MiB/s)."
    ),
    "EBS io2: the first IOPS tier (up to 32,000) is used for all IOPS, an upper bound above 32,000.",
    "EBS standard (magnetic): per-I/O charges are not included.",
    "Load balancers: hourly charge only; LCU/NLCU/GLCU usage charges are not included.",
    "NAT gateway: hourly charge only; per-GB data processing is not included.",
    "Public IPv4: AWS charges 0.005 USD/h for every public IPv4 address since 2024-02-01.",
    (
        "RDS: Single-AZ instance prices per engine and licence model (rds.<engine>[:<licence>]); Aurora "
        "Standard storage only. Multi-AZ (one standby) is billed at 2x instance and storage for MySQL "
        "and PostgreSQL; other engines' Multi-AZ instances are unpriced."
    ),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--ec2-instances-info",
        type=Path,
        default=info.DEFAULT_DIR,
        help=f"unpacked {info.MODULE}@{info.VERSION} (default: {info.DEFAULT_DIR})",
    )
    parser.add_argument("--karpenter", type=Path, help="git directory of the karpenter repo (optional)")
    parser.add_argument("--output", type=Path, default=SNAPSHOT)
    args = parser.parse_args(argv)
    current = aws_pricing.parse_book(SNAPSHOT.read_text(encoding="utf-8"))
    try:
        book = generate(
            args.ec2_instances_info, args.karpenter, current.model_dump(mode="json", by_alias=True)
        )
    except info.SourceError as exc:
        print(f"gen_aws_prices: {exc}", file=sys.stderr)
        return 2
    args.output.write_text(aws_pricing.dump_book(book), encoding="utf-8")
    print(f"wrote {args.output}: {len(book.regions)} regions, {book.count()} prices", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

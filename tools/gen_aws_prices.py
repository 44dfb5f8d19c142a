"""Regenerates the bundled AWS price snapshot from public tables, recording each table's basis.

Usage (the karpenter git directory is what the ``fetch`` tool or ``git clone --bare`` brings)::

    python tools/gen_aws_prices.py --karpenter /work/.mirror/aws+karpenter-provider-aws/repo

Inputs, each recorded per table in the snapshot:
- ``aws/karpenter-provider-aws`` ``pkg/providers/pricing/zz_generated.pricing_aws.go`` at the
  directory's HEAD: on-demand Linux prices per instance type (it lists us-east-1 only). Parsed here
  by our own reader of its ``"type": price`` literals; nothing of the file is committed.
- botocore's endpoint data (the commercial ``aws`` partition's EC2 regions) and its EC2 service
  model (the ``InstanceType`` enum): every region gets an entry, every type is priced or explained.
- moto's bundled DescribeInstanceTypes data: vCPUs and architectures, for the derived Windows table.
- The snapshot committed today: tables it holds that no source above replaces are carried over with
  the basis they already record.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

REPOSITORY = "aws/karpenter-provider-aws"
KARPENTER_PATH = "pkg/providers/pricing/zz_generated.pricing_aws.go"
SNAPSHOT = Path(__file__).resolve().parent.parent / "operator/cloudios/pricing/aws/data/aws-prices.json"
# Windows Server license-included: the Windows price is the Linux price plus a fee per vCPU-hour.
WINDOWS_FEE_PER_VCPU_HOUR = Decimal("0.046")
WINDOWS_METHOD = (
    "Linux price (ec2.linux table) + 0.046 USD per vCPU-hour, AWS's Windows Server license-included "
    "fee for non-burstable x86_64 types (AWS EC2 On-Demand pricing: m5.large Windows 0.188 vs Linux "
    "0.096 USD/h in us-east-1, also in the recorded offer excerpt tests/fixtures/pricing/AmazonEC2/"
    "us-east-1/index.json, publicationDate 2024-11-26); vCPUs from moto's DescribeInstanceTypes data. "
    "Burstable (t*), arm64 and mac types are left out: their license fee is not per vCPU or Windows "
    "does not run on them."
)
_REGION = re.compile(r'^\t"([a-z0-9-]+)": \{$', re.MULTILINE)
_PRICE = re.compile(r'"([a-z0-9-]+\.[a-z0-9-]+)":\s*([0-9.]+)')
_GENERATED = re.compile(r"// generated at (\S+) for")


def parse_karpenter_table(text: str) -> dict[str, dict[str, Decimal]]:
    """Region -> instance type -> USD per hour, from the Go map literal's text."""
    starts = [(m.group(1), m.end()) for m in _REGION.finditer(text)]
    tables: dict[str, dict[str, Decimal]] = {}
    for i, (region, start) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(text)
        body = text[start:end]
        tables[region] = {t: Decimal(p).normalize() for t, p in _PRICE.findall(body) if Decimal(p) > 0}
    return tables


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


def _moto_types() -> dict[str, Any]:
    data = resources.files("moto.ec2").joinpath("resources/instance_types.json.gz").read_bytes()
    loaded: dict[str, Any] = json.loads(gzip.decompress(data))
    return loaded


def _windows(linux: dict[str, Decimal], moto_types: dict[str, Any]) -> dict[str, str]:
    table: dict[str, str] = {}
    for name, price in linux.items():
        info = moto_types.get(name)
        if info is None or name.startswith(("t1.", "t2.", "t3.", "t3a.", "mac")):
            continue
        if "x86_64" not in info["ProcessorInfo"]["SupportedArchitectures"]:
            continue
        vcpus = Decimal(info["VCpuInfo"]["DefaultVCpus"])
        table[name] = str((price + WINDOWS_FEE_PER_VCPU_HOUR * vcpus).normalize())
    return dict(sorted(table.items()))


def _carried(region: dict[str, Any]) -> dict[str, Any]:
    """The basis of every table an older snapshot region holds, from its region-wide source."""
    words = region["source"]
    kind = "derived" if words.lower().startswith("derived") else "listed"
    tables = dict(region.get("tables", {}))
    present = {
        "ebs": region.get("ebs"),
        "snapshot": region.get("snapshotGbMonth"),
        "publicIpv4": region.get("publicIpv4Hourly"),
        "elb": region.get("elbHourly"),
        "nat": region.get("natGatewayHourly"),
        "rds": region.get("rds"),
        "rdsStorage": region.get("rdsStorageGbMonth"),
        **{f"ec2.{os}": t for os, t in region.get("ec2", {}).items()},
    }
    for table, value in present.items():
        if value and table not in tables:
            tables[table] = {"kind": kind if table.startswith(("ec2", "rds")) else "listed", "source": words}
    return tables


_NO_SOURCE = (
    "no public source on this machine gives these prices for this region (karpenter's table lists "
    "us-east-1 only); run 'cloudios prices refresh --regions {region}' for AWS's own figures"
)
_OTHER_OS = (
    "no public source on this machine gives {os} prices (karpenter lists Linux only, and no "
    "documented license fee was recorded for {os}); run 'cloudios prices refresh' for AWS's own figures"
)


def generate(gitdir: Path, current: dict[str, Any]) -> dict[str, Any]:
    """The new snapshot from the karpenter checkout, botocore, moto and the current snapshot."""
    text = _git(gitdir, "show", f"HEAD:{KARPENTER_PATH}")
    commit = _git(gitdir, "log", "-1", "--format=%H %cs", "HEAD", "--", KARPENTER_PATH).split()
    generated = _GENERATED.search(text)
    karpenter = parse_karpenter_table(text)
    regions, api_types = _botocore()
    moto_types = _moto_types()
    sourced = {
        "kind": "sourced",
        "source": f"{REPOSITORY} {KARPENTER_PATH} (on-demand Linux, shared tenancy), generated by "
        f"karpenter at {generated.group(1) if generated else 'an unrecorded time'}",
        "repository": REPOSITORY,
        "path": KARPENTER_PATH,
        "commit": commit[0],
        "date": commit[1],
    }
    out_regions: dict[str, Any] = {}
    for region in regions:
        old = current["regions"].get(region)
        entry: dict[str, Any] = dict(old) if old else {"source": _NO_SOURCE.format(region=region)}
        tables = _carried(entry) if old else {}
        entry["ec2"] = dict(entry.get("ec2", {}))
        unpriced: dict[str, str] = {}
        if region in karpenter:
            linux = karpenter[region]
            entry["ec2"]["linux"] = {t: str(p) for t, p in sorted(linux.items())}
            tables["ec2.linux"] = sourced
            entry["ec2"]["windows"] = _windows(linux, moto_types)
            tables["ec2.windows"] = {"kind": "derived", "source": sourced["source"], "method": WINDOWS_METHOD}
            absent = [t for t in api_types if t not in linux]
            entry["ec2Absent"] = {
                "linux": f"not in {REPOSITORY}'s {region} table at {commit[0][:12]}: not sold on "
                "demand here, or retired"
            }
            entry["ec2AbsentTypes"] = {"linux": absent}
        elif "windows" not in entry["ec2"]:
            unpriced["ec2.windows"] = (
                "Windows prices are derived only from Linux prices a program parsed from a public "
                f"source (us-east-1); run 'cloudios prices refresh --regions {region}' for AWS's own figures"
            )
        for table in ("ec2.linux", "ebs", "snapshot", "publicIpv4", "elb", "nat", "rds", "rdsStorage"):
            if table not in tables:
                unpriced[table] = _NO_SOURCE.format(region=region)
        for os_name in ("rhel", "suse"):
            unpriced[f"ec2.{os_name}"] = _OTHER_OS.format(os=os_name.upper())
        entry["tables"] = dict(sorted(tables.items()))
        entry["unpriced"] = dict(sorted(unpriced.items()))
        out_regions[region] = entry
    return {
        **current,
        "source": "Generated by tools/gen_aws_prices.py: EC2 Linux prices parsed from "
        f"{REPOSITORY} ({KARPENTER_PATH} at {commit[0][:12]}, {commit[1]}); Windows derived from them "
        "by AWS's per-vCPU license fee; other tables carried over from the hand-compiled snapshot of "
        "2024-12. Every region of botocore's EC2 endpoints has an entry; each table records its basis "
        "and each missing table its reason. Replace with AWS's own figures: 'cloudios prices refresh'.",
        "regions": out_regions,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--karpenter", type=Path, required=True, help="git directory of the karpenter repo")
    parser.add_argument("--output", type=Path, default=SNAPSHOT)
    args = parser.parse_args(argv)
    current = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    snapshot = generate(args.karpenter, current)
    args.output.write_text(json.dumps(snapshot, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {len(snapshot['regions'])} regions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

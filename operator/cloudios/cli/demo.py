"""`cloudios demo`: a seeded local AWS emulator, scanned end to end, with a table and an HTML report."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from rich.console import Console

from cloudios.cli import manifests as manifest_io
from cloudios.cli.output import table, to_html, wide_console
from cloudios.cli.scan import run_scans
from cloudios.providers.aws.credentials import AwsBaseCredentials
from cloudios.store import SqlRepository

DEMO_ACCOUNT = "123456789012"
DEMO_REGIONS = ("us-east-1", "eu-west-1")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="scan a seeded local AWS emulator (moto) and print the savings")
    p.add_argument("--report", default="out/cloudios-demo-report.html", help="where to write the HTML report")
    p.add_argument("--seed", type=int, default=7, help="random seed of the sample estate")
    p.add_argument(
        "--scale", type=float, default=1.0, help="size of the sample estate (1.0 = ~100 resources)"
    )


def _manifest_paths() -> list[str]:
    """The demo manifests shipped in examples/demo (the same files a user applies to a cluster)."""
    root = Path(__file__).resolve().parents[3] / "examples" / "demo"
    if root.is_dir():
        return [str(root / "cloudaccount.yaml"), str(root / "scanpolicy.yaml")]
    # Installed from a wheel: examples/demo is packaged as cloudios/cli/demo_manifests.
    packaged = resources.files("cloudios.cli").joinpath("demo_manifests")
    return [str(packaged.joinpath("cloudaccount.yaml")), str(packaged.joinpath("scanpolicy.yaml"))]


def run(args: argparse.Namespace) -> int:
    try:
        from cloudios.providers.aws import emulator, sample_estate  # noqa: PLC0415
    except ImportError as exc:
        sys.stderr.write(
            f"cloudios demo needs the aws and dev extras (missing {exc.name}); run `make demo`\n"
        )
        return 2
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    out = wide_console(sys.stdout)
    started = time.monotonic()
    err.print("[bold]Cloudios demo[/]: starting a local AWS emulator (moto server) on 127.0.0.1 ...")
    url, stop = emulator.start_moto_server()
    try:
        # The scan reaches the emulator through boto3's own AWS_ENDPOINT_URL setting, as users reach
        # VPC endpoints; credentials are passed explicitly, never through the environment.
        os.environ["AWS_ENDPOINT_URL"] = url
        base = AwsBaseCredentials(access_key_id="demo", secret_access_key="demo")  # noqa: S106
        err.print(f"seeding a sample estate in account {DEMO_ACCOUNT}, regions {', '.join(DEMO_REGIONS)} ...")
        truth = sample_estate.seed_estate(
            url, seed=args.seed, regions=DEMO_REGIONS, scale=args.scale, lookback_days=30
        )
        err.print(f"seeded {len(truth.labels)} resources with 30 days of CloudWatch metrics")
        found = manifest_io.load(_manifest_paths())
        with tempfile.TemporaryDirectory(prefix="cloudios-demo-") as data:
            store = SqlRepository.sqlite(data)
            try:
                err.print("scanning with every AWS module ...")
                report, notes = run_scans(found, store=store, credentials=base)
            finally:
                store.close()
    finally:
        os.environ.pop("AWS_ENDPOINT_URL", None)
        stop()
    for note in notes:
        err.print(f"note: {note}", markup=False)
    table(report, out)
    total = report.total
    out.print(
        f"\n[bold green]Potential savings: {total.rounded().amount} {total.currency} per month[/] "
        f"({len(report.findings)} recommendations, list prices)"
    )
    report_path = Path(args.report)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(to_html(report), encoding="utf-8")
    out.print(f"HTML report: {report_path.resolve()}")
    calls = sum(n for k, n in report.api_calls().items() if not k.endswith(".retries"))
    out.print(f"API calls: {calls} ({time.monotonic() - started:.1f}s in all)")
    for error in report.errors:
        err.print(f"error: {error.obj}: {error.reason}: {error.message}", markup=False)
    return 2 if report.errors else 0

"""`cloudios demo`: a seeded local cloud emulator, scanned end to end, with a table and an HTML report."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

from cloudios.cli import hints
from cloudios.cli import manifests as manifest_io
from cloudios.cli.commands import EXIT_INPUT, EXIT_OK
from cloudios.cli.output import table, to_html, wide_console
from cloudios.cli.scan import run_scans
from cloudios.emulators import registry as emulators
from cloudios.emulators.base import EstateOptions
from cloudios.security import files
from cloudios.store import SqlRepository


def run(args: argparse.Namespace) -> int:
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    out = wide_console(sys.stdout)
    started = time.monotonic()
    options = EstateOptions(seed=args.seed, scale=args.scale, estate=args.estate)
    err.print(f"[bold]Cloudios demo[/]: a local {args.provider} emulator with a sample estate")
    try:
        with emulators.running(
            args.provider, options, lambda line: err.print(line, markup=False)
        ) as emulator:
            found = manifest_io.load(list(emulator.manifests))
            with tempfile.TemporaryDirectory(prefix="cloudios-demo-") as data:
                store = SqlRepository.sqlite(data)
                try:
                    err.print(f"scanning with every {args.provider} module ...")
                    report, notes = run_scans(found, store=store, credentials=emulator.credentials)
                finally:
                    store.close()
    except emulators.EmulatorError as exc:
        sys.stderr.write(f"cloudios demo: {exc}\n")
        return EXIT_INPUT
    for note in notes:
        err.print(f"note: {note}", markup=False)
    table(report, out)
    total = report.total
    out.print(
        f"\n[bold green]Potential savings: {total.rounded().amount} {total.currency} per month[/] "
        f"({len(report.findings)} recommendations, list prices)"
    )
    report_path = Path(args.report)
    files.private_dir(report_path.parent)
    files.write_private(report_path, to_html(report))
    out.print(f"HTML report: {report_path.resolve()}")
    calls = sum(n for k, n in report.api_calls().items() if not k.endswith(".retries"))
    out.print(f"API calls: {calls} ({time.monotonic() - started:.1f}s in all)")
    for error in report.errors:
        err.print(f"error: {error.obj}: {error.reason}: {error.message}", markup=False)
    return hints.exit_code({e.reason for e in report.errors}) if report.errors else EXIT_OK

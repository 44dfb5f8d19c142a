"""`cloudios demo`'s options and help."""

from __future__ import annotations

import argparse
from pathlib import Path

from cloudios.cli.commands import EXIT_INPUT, EXIT_OK, EXIT_UNSCANNED, SubParsers, command

PROVIDERS = ("aws", "gcp", "azure")
"""Clouds with a local emulator (cloudios.emulators.registry; a test keeps the two equal)."""


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "demo",
        summary="scan a seeded local cloud emulator (AWS: moto) and print the savings",
        description="Start a local emulator of the chosen cloud on 127.0.0.1 with a sample estate "
        "(or --estate), scan it with every module, print the table and write an HTML report. "
        "Needs no cloud account and no credentials.",
        examples=(
            "cloudios demo",
            "cloudios demo --provider azure --report out/azure.html",
            "cloudios demo --provider gcp --estate my-estate.yaml",
        ),
        exit_codes=(
            (EXIT_OK, "the demo scanned the emulator"),
            (EXIT_INPUT, "bad input, or the emulator cannot start (its extra is not installed)"),
            (EXIT_UNSCANNED, "the emulated account could not be scanned"),
        ),
    )
    p.add_argument(
        "--provider",
        default="aws",
        choices=PROVIDERS,
        help="the cloud to emulate; only clouds with a local emulator are accepted (default %(default)s)",
    )
    p.add_argument("--report", default="out/cloudios-demo-report.html", help="where to write the HTML report")
    p.add_argument("--seed", type=int, default=7, help="random seed of the sample estate")
    p.add_argument(
        "--scale", type=float, default=1.0, help="size of the sample estate (1.0 = ~100 resources)"
    )
    p.add_argument(
        "--estate",
        type=Path,
        metavar="FILE",
        help="an estate file to load instead of the sample (docs/estates.md; gcp and azure emulators)",
    )

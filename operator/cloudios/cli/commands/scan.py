"""`cloudios scan`'s options and help."""

from __future__ import annotations

import argparse
import os

from cloudios.cli.commands import (
    EXIT_GATE,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_UNSCANNED,
    SubParsers,
    command,
    completes_files,
    quiet_option,
)
from cloudios.cli.options import add_store_location

FORMATS = ("table", "json", "yaml", "csv", "html")


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "scan",
        summary="scan the accounts of CloudAccount/ScanPolicy manifests",
        description="Scan the accounts that CloudAccount manifests name, with the modules and settings "
        "of the ScanPolicies that select them (the same manifests you apply to a cluster), and print "
        "the recommendations with their monthly savings. AWS credentials come from the standard chain "
        "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or --profile, ~/.aws/config and "
        "credentials, SSO, an instance or pod role); each account's roleArn is then assumed.",
        examples=(
            "cloudios scan -f team-a.yaml",
            "cloudios scan -f accounts.yaml -f policies.yaml -o json --output-file report.json",
            "cat team-a.yaml | cloudios scan -f - -o yaml",
            "cloudios scan -f team-a.yaml --profile audit --fail-above 500 -q   # a CI gate",
        ),
        exit_codes=(
            (EXIT_OK, "scan finished (recommendations or not, unless a gate below applies)"),
            (
                EXIT_GATE,
                (
                    "findings gate: --fail-on-findings and there is a recommendation, or --fail-above "
                    "exceeded (also an unexpected error: a bug, logged with its redacted traceback)"
                ),
            ),
            (EXIT_INPUT, "bad input: usage or an invalid manifest (the message names file, object, field)"),
            (
                EXIT_UNSCANNED,
                (
                    "an account could not be scanned: no or refused credentials, an unreachable "
                    "endpoint, AssumeRole denied (one line per account with a hint)"
                ),
            ),
        ),
    )
    completes_files(
        p.add_argument(
            "-f",
            "--filename",
            action="append",
            required=True,
            metavar="FILE",
            help="manifest file (repeatable; '-' for stdin)",
        )
    )
    p.add_argument("-o", "--output", choices=FORMATS, default="table", help="output format (default: table)")
    p.add_argument("--output-file", metavar="PATH", help="write the report here instead of stdout")
    add_store_location(p)
    p.add_argument("--no-store", action="store_true", help="do not record the scan in the local store")
    p.add_argument("--fail-on-findings", action="store_true", help="exit 1 when there is any recommendation")
    p.add_argument(
        "--fail-above", metavar="AMOUNT", help="exit 1 when total monthly savings exceed AMOUNT (USD)"
    )
    p.add_argument("--concurrency", type=int, default=4, help="accounts scanned at once (default 4)")
    p.add_argument(
        "--prices",
        metavar="FILE",
        default=os.environ.get("CLOUDIOS_PRICES"),
        help="price snapshot written by `cloudios prices refresh` (default $CLOUDIOS_PRICES, else bundled)",
    )
    p.add_argument(
        "--profile",
        metavar="NAME",
        help="AWS shared-config profile for the base credentials (default $AWS_PROFILE, else the chain)",
    )
    quiet_option(p)

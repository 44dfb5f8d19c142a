"""`cloudios validate`'s options and help."""

from __future__ import annotations

import argparse

from cloudios.cli.commands import EXIT_INPUT, EXIT_OK, SubParsers, command, completes_files, quiet_option

OUTPUTS = ("text", "json", "yaml")


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "validate",
        summary="check CloudAccount/ScanPolicy/Recommendation manifests offline, as admission would",
        description="Check manifests without a cluster, with the checks and messages the API server "
        "and Cloudios's admission webhook use: the CRD schema (the API models it is generated from), "
        "its CEL x-kubernetes-validations rules, and the webhook's schedule and webhook-URL checks. "
        "Every problem is printed with the file, the object (kind/namespace/name), the field and the "
        "fix. Rules that only apply on update (oldSelf) are not checked. A rule that cannot be "
        "evaluated offline is reported as such, never passed silently.",
        examples=(
            "cloudios validate -f team-a.yaml",
            "cloudios validate -f manifests/            # every *.yaml, *.yml and *.json in it",
            "kustomize build overlays/prod | cloudios validate -f -",
            "cloudios validate -f team-a.yaml -q && kubectl apply -f team-a.yaml",
        ),
        exit_codes=(
            (EXIT_OK, "every object is valid"),
            (EXIT_INPUT, "at least one problem (or a usage error); each is printed on stderr"),
        ),
    )
    completes_files(
        p.add_argument(
            "-f",
            "--filename",
            action="append",
            required=True,
            metavar="FILE",
            help="manifest file or directory (repeatable; '-' for stdin)",
        )
    )
    p.add_argument(
        "-o", "--output", choices=OUTPUTS, default="text", help="result format on stdout (default: text)"
    )
    quiet_option(p)

"""`kubectl cloudios`'s commands, options and help (description, examples, exit codes), kept light."""

from __future__ import annotations

import argparse
import os
from typing import Any

from cloudios.cli.commands import Parser, SubParsers, command, epilog

URL_ENV, CA_ENV, TOKEN_ENV = "CLOUDIOS_INGEST_URL", "CLOUDIOS_INGEST_CA", "CLOUDIOS_TOKEN"
EXIT_CODES = (
    (0, "done"),
    (1, "refused (RBAC, the webhook) or not found; the API's message is printed"),
    (2, "usage error or an unreadable kubeconfig"),
)
TABLE, TEXT, NAME = "table", "text", "name"
DATA = ("json", "yaml")


def _connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before and after the command, as kubectl does (``approve r1 -n team-a``).

    After the command they default to SUPPRESS so they never overwrite a value given before it.
    """
    default: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--kubeconfig", help="path to the kubeconfig file", **default)
    parser.add_argument("--context", help="kubeconfig context to use", **default)
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)", **default)
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        help="act as this user (impersonation, like kubectl --as; needs the `impersonate` right)",
        **default,
    )
    parser.add_argument(
        "--as-group",
        dest="as_group" if top else "as_group_after",
        metavar="GROUP",
        action="append",
        default=[] if top else argparse.SUPPRESS,
        help="with --as: act as a member of this group (repeatable)",
    )


def _output(p: argparse.ArgumentParser, human: str) -> None:
    p.add_argument(
        "-o",
        "--output",
        choices=(human, *DATA),
        default=human,
        help=f"output format (default: {human}); json and yaml are for scripts",
    )


def _decisions(sub: SubParsers[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    made = []
    for name, verb in (("approve", "Approve"), ("dismiss", "Dismiss")):
        p = command(
            sub,
            name,
            summary=f"{name} a recommendation",
            description=f"{verb} a Recommendation. The operator's admission webhook records who decided "
            "(spec.decision.decidedBy, decidedAt); deciding needs the cloudios-admin or cloudios-owner "
            "role in the namespace.",
            examples=(
                f"kubectl cloudios {name} aws-ec2-idle-50a8d58b1979 -n team-a --reason 'batch job retired'",
                f"kubectl cloudios {name} aws-ec2-idle-50a8d58b1979 -n team-a -o yaml",
            ),
            exit_codes=EXIT_CODES,
        )
        p.add_argument("name", help="Recommendation name")
        p.add_argument("--reason", help="why (recorded with your identity)")
        p.add_argument(
            "-o",
            "--output",
            choices=(NAME, *DATA),
            help="print the decided object (json, yaml) or only its name, instead of a sentence",
        )
        made.append(p)
    return made


def _views(sub: SubParsers[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    s = command(
        sub,
        "summary",
        summary="open savings by namespace, account and category",
        description="Sum the monthly savings of the open Recommendations (Proposed, Approved, Applied) "
        "that the operator published and confirmed, by namespace, account and category.",
        examples=("kubectl cloudios summary -n team-a", "kubectl cloudios summary -A -o json"),
        exit_codes=EXIT_CODES,
    )
    s.add_argument("-A", "--all-namespaces", action="store_true", help="across all namespaces you can read")
    _output(s, TABLE)
    li = command(
        sub,
        "list",
        summary="the recommendations, largest savings first",
        description="List Recommendations with their state, account, module and monthly savings, "
        "largest first. Ones the operator has not confirmed are shown as Unconfirmed.",
        examples=("kubectl cloudios list -n team-a", "kubectl cloudios list -A -o yaml"),
        exit_codes=EXIT_CODES,
    )
    li.add_argument("-A", "--all-namespaces", action="store_true", help="across all namespaces you can read")
    _output(li, TABLE)
    e = command(
        sub,
        "explain",
        summary="a recommendation's evidence in words",
        description="Explain a Recommendation: the resource, the change, the savings, the evidence "
        "(metrics over the lookback) and the decision with who made it.",
        examples=(
            "kubectl cloudios explain aws-ec2-idle-50a8d58b1979 -n team-a",
            "kubectl cloudios explain aws-ec2-idle-50a8d58b1979 -n team-a -o json",
        ),
        exit_codes=EXIT_CODES,
    )
    e.add_argument("name", help="Recommendation name")
    _output(e, TEXT)
    return [s, li, e]


def _data_rights(sub: SubParsers[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    export = command(
        sub,
        "export",
        summary="the namespace's whole data as JSON (needs cloudios-owner)",
        description="Export the namespace's whole data (cloudios.io/export/v1) through the operator's "
        "data-rights API, with your bearer token.",
        examples=(
            "kubectl cloudios export -n team-a --url https://cloudios-ingest.example:8443 -o team-a.json",
            "kubectl cloudios export -n team-a --format yaml",
        ),
        exit_codes=EXIT_CODES,
    )
    export.add_argument("-o", "--output-file", metavar="FILE", help="write here instead of stdout")
    erase = command(
        sub,
        "erase",
        summary="erase the namespace's data (needs cloudios-owner; cannot be undone)",
        description="Erase the namespace's data through the operator's data-rights API; audit entries "
        "stay, pseudonymous. Prints what was deleted.",
        examples=("kubectl cloudios erase -n team-a --url https://cloudios-ingest.example:8443 --yes",),
        exit_codes=EXIT_CODES,
    )
    erase.add_argument("--yes", action="store_true", help="confirm the erasure")
    for p in (export, erase):
        p.add_argument("--format", choices=DATA, default="json", help="the answer as json (default) or yaml")
        p.add_argument(
            "--url", default=os.environ.get(URL_ENV), help=f"the data-rights API (default ${URL_ENV})"
        )
        p.add_argument(
            "--certificate-authority",
            dest="ca_file",
            default=os.environ.get(CA_ENV),
            metavar="FILE",
            help=f"CA bundle of its certificate (default ${CA_ENV}, else the system's)",
        )
        p.add_argument(
            "--token",
            default=os.environ.get(TOKEN_ENV),
            help=f"bearer token (default ${TOKEN_ENV}, else the kubeconfig's)",
        )
    return [export, erase]


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = Parser(
        prog="kubectl cloudios",
        description="Work with Cloudios Recommendations in a cluster: list, summarise and explain "
        "them, approve or dismiss them, and export or erase a namespace's data.",
        epilog=epilog(
            (
                "kubectl cloudios summary -A",
                "kubectl cloudios list -n team-a -o yaml",
                "kubectl cloudios approve aws-ec2-idle-50a8d58b1979 -n team-a --as alice",
            ),
            EXIT_CODES,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _connection_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for p in (*_decisions(sub), *_views(sub), *_data_rights(sub)):
        _connection_options(p, top=False)
    return parser

"""The `cloudios` command: scan, validate, demo, prices, audit, keys, data, ingest, backup, completion."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import cast

from cloudios import __version__
from cloudios.cli.commands import (
    EXIT_GATE,
    EXIT_INPUT,
    EXIT_OK,
    EXIT_UNSCANNED,
    Parser,
    audit,
    backup,
    completion,
    data,
    demo,
    epilog,
    ingest,
    keys,
    prices,
    scan,
    validate,
)

Runner = Callable[[argparse.Namespace], int]
EXIT_CRASH = 1  # what Python itself exits with on an uncaught exception

# command -> the light module that declares its options. Its work is in cloudios.cli.<command>,
# imported only when it runs: --help, a usage error and completion import no SDK, store or model.
COMMANDS = {
    "scan": scan,
    "validate": validate,
    "demo": demo,
    "prices": prices,
    "audit": audit,
    "keys": keys,
    "data": data,
    "ingest": ingest,
    "backup": backup,
    "completion": completion,
}

EXIT_CODES = (
    (EXIT_OK, "done"),
    (EXIT_GATE, "scan: the findings gate (--fail-on-findings, --fail-above); a refused operation; a bug"),
    (EXIT_INPUT, "bad input: usage, an invalid manifest, a missing flag or file (one line names it)"),
    (EXIT_UNSCANNED, "scan: an account could not be scanned (credentials, endpoint)"),
)


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; builds without importing any command's implementation."""
    parser = Parser(
        prog="cloudios",
        description="Find wasted cloud spend and price the savings: scan cloud accounts from "
        "CloudAccount/ScanPolicy manifests, check manifests offline, and manage the local store.",
        epilog=epilog(
            (
                "cloudios demo",
                "cloudios validate -f team-a.yaml",
                "cloudios scan -f team-a.yaml -o yaml",
                "cloudios COMMAND --help",
                "source <(cloudios completion bash)",
            ),
            EXIT_CODES,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"cloudios {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log to stderr: -v Cloudios debug detail, -vv every library's too (secrets are redacted)",
    )
    parser.add_argument(
        "--debug-wire",
        action="store_true",
        help="also log the cloud SDKs' HTTP requests and responses (redacted); off at every -v level",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return parser


def runner(command: str) -> Runner:
    """The command's implementation, imported now."""
    return cast("Runner", importlib.import_module(f"cloudios.cli.{command}").run)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import logging  # noqa: PLC0415 - after parsing: --help and usage errors need none of this

    from cloudios.security import logs  # noqa: PLC0415

    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    logs.configure(levels[min(args.verbose, 2)], wire=args.debug_wire)
    if args.verbose:
        logging.getLogger("cloudios").setLevel(logging.DEBUG)
    try:
        return runner(args.command)(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except Exception:
        # A bug or an answer nobody expected: through the redacting logger, never Python's raw
        # traceback printer (an SDK error can quote a response that holds credentials).
        logging.getLogger("cloudios.cli").exception("unexpected error; please report it")
        return EXIT_CRASH


if __name__ == "__main__":
    raise SystemExit(main())

"""The `cloudios` command: scan, demo, prices, audit, keys, data, ingest, backup."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

from cloudios import __version__

Runner = Callable[[argparse.Namespace], int]
EXIT_CRASH = 1  # what Python itself exits with on an uncaught exception


class _Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (the CLI contract), never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Runner]]:
    from cloudios.cli import audit, backup, data, demo, ingest, keys, prices, scan  # noqa: PLC0415

    parser = _Parser(prog="cloudios", description="Find wasted cloud spend and price the savings.")
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
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    runners: dict[str, Runner] = {}
    commands = (
        ("scan", scan),
        ("demo", demo),
        ("prices", prices),
        ("audit", audit),
        ("keys", keys),
        ("data", data),
        ("ingest", ingest),
        ("backup", backup),
    )
    for command, module in commands:
        module.add_parser(sub)
        runners[command] = module.run
    return parser, runners


def main(argv: list[str] | None = None) -> int:
    parser, runners = build_parser()
    args = parser.parse_args(argv)
    from cloudios.security import logs  # noqa: PLC0415

    levels = (logging.WARNING, logging.INFO, logging.DEBUG)
    logs.configure(levels[min(args.verbose, 2)], wire=args.debug_wire)
    if args.verbose:
        logging.getLogger("cloudios").setLevel(logging.DEBUG)
    try:
        return runners[args.command](args)
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

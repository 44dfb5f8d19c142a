"""The `cloudios` commands' options and help, kept light: building the parser imports no SDK or store.

Each module here declares one command (``add_parser``); its work lives in ``cloudios.cli.<command>``,
imported only when that command runs, so `cloudios --help` and completion start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

SubParsers = argparse._SubParsersAction  # noqa: SLF001 - argparse exposes no public name for it

EXIT_OK, EXIT_GATE, EXIT_INPUT, EXIT_UNSCANNED = 0, 1, 2, 3
"""The CLI's exit codes: done; findings gate (or a refused/failed operation); bad input; an account
that could not be scanned (credentials, endpoint)."""

EXIT_CODES_COMMON = (
    (EXIT_OK, "done"),
    (EXIT_INPUT, "bad input: usage, a missing flag or file (one line names it)"),
)


# shtab's FILE hint, written out so that building the parser does not import shtab.
_FILES = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}


def completes_files(action: argparse.Action) -> argparse.Action:
    """Mark an option whose value is a path: completion scripts offer file names for it."""
    setattr(action, "complete", _FILES)  # noqa: B010 - shtab reads this attribute; Action declares none
    return action


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with one clear line (the CLI contract), never a traceback."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_INPUT)


def epilog(examples: Sequence[str], exit_codes: Sequence[tuple[int, str]]) -> str:
    """The 'examples' and 'exit codes' sections every command's --help ends with."""
    lines = ["examples:", *(f"  {e}" for e in examples), "", "exit codes:"]
    lines += [f"  {code}  {meaning}" for code, meaning in exit_codes]
    return "\n".join(lines)


def command(
    sub: SubParsers[argparse.ArgumentParser],
    name: str,
    *,
    summary: str,
    description: str,
    examples: Sequence[str],
    exit_codes: Sequence[tuple[int, str]] = EXIT_CODES_COMMON,
) -> argparse.ArgumentParser:
    """A (sub)command whose --help has a description, examples and its exit codes."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog(examples, exit_codes),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def quiet_option(p: argparse.ArgumentParser) -> None:
    """-q/--quiet: nothing on stdout or stderr but errors; the exit code tells the outcome."""
    p.add_argument(
        "-q", "--quiet", action="store_true", help="print only errors; the exit code tells the outcome"
    )

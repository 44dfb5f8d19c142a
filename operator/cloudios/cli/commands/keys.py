"""`cloudios keys`'s options and help."""

from __future__ import annotations

import argparse

from cloudios.cli.commands import SubParsers, command
from cloudios.cli.options import add_store_location

KEYSET_FILE_ENV = "CLOUDIOS_MASTER_KEY_FILE"

# name -> (summary, example); every subcommand names its keyset file, some the store too.
_SUBCOMMANDS = {
    "init": ("write a new keyset file (version 1), owner-only", "cloudios keys init --keyset keyset.json"),
    "add": (
        "add a master-key version (kept for readers until promoted)",
        "cloudios keys add --keyset keyset.json",
    ),
    "promote": (
        "make a version (default: the newest) the primary",
        "cloudios keys promote --keyset keyset.json --version 2",
    ),
    "rewrap": (
        "wrap every data key under the primary; values untouched",
        "cloudios keys rewrap --keyset keyset.json --data-dir ~/.local/share/cloudios",
    ),
    "rotate": (
        "add a primary version to the keyset file, then rewrap",
        "cloudios keys rotate --keyset keyset.json",
    ),
    "retire": (
        "raise minVersion once no data key needs older versions",
        "cloudios keys retire --keyset keyset.json --min-version 2 --destroy",
    ),
    "status": (
        "key versions and data-key counters (no key material)",
        "cloudios keys status --keyset keyset.json",
    ),
}
_EXIT_CODES = ((0, "done"), (2, "bad input: a bad or missing keyset, a missing database, a refused retire"))


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "keys",
        summary="master keyset and the data keys of stored secrets",
        description="Manage the master keyset that encrypts every stored secret and see the per-tenant "
        "data keys in the store. No command prints key material.",
        examples=tuple(example for _, example in _SUBCOMMANDS.values()),
        exit_codes=_EXIT_CODES,
    )
    commands = p.add_subparsers(dest="keys_command", required=True)
    made = {
        name: command(
            commands,
            name,
            summary=summary,
            description=summary.capitalize() + ".",
            examples=(example,),
            exit_codes=_EXIT_CODES,
        )
        for name, (summary, example) in _SUBCOMMANDS.items()
    }
    for name in ("init", "add", "promote", "rotate", "retire"):
        _keyset_arg(made[name], required=True)
    for name in ("rewrap", "status"):
        _keyset_arg(made[name], required=False)
    for name in ("rewrap", "rotate", "retire", "status"):
        add_store_location(made[name], url=True)
    made["add"].add_argument("--primary", action="store_true", help="make the new version primary at once")
    made["promote"].add_argument("--version", type=int, metavar="N", help="the version to promote")
    made["rotate"].add_argument("--no-rewrap", action="store_true", help="only add the version to the file")
    made["retire"].add_argument("--min-version", type=int, required=True, metavar="N")
    made["retire"].add_argument(
        "--destroy", action="store_true", help="also delete versions below N from the file"
    )


def _keyset_arg(p: argparse.ArgumentParser, *, required: bool) -> None:
    default = "" if required else f" (default ${KEYSET_FILE_ENV}, or the key in $CLOUDIOS_MASTER_KEY)"
    p.add_argument("--keyset", required=required, metavar="FILE", help=f"master keyset file{default}")

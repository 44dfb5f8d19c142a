"""`cloudios data`'s options and help."""

from __future__ import annotations

import argparse

from cloudios.cli.commands import SubParsers, command

CHAIN_KEY_ENV = "CLOUDIOS_AUDIT_CHAIN_KEY_FILE"
SIGNING_KEY_ENV = "CLOUDIOS_AUDIT_SIGNING_KEY_FILE"


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "data",
        summary="export or erase a namespace's data in the local store (audited)",
        description="A namespace's data rights on the local store (the cluster's are "
        "`kubectl cloudios export|erase`). Both are audited as local:<user> from cli.",
        examples=(
            "cloudios data export team-a --chain-key audit-chain.key -o team-a.json",
            "cloudios data erase team-a --yes --chain-key audit-chain.key",
        ),
    )
    commands = p.add_subparsers(dest="data_command", required=True)
    e = command(
        commands,
        "export",
        summary="the namespace's whole data as JSON (cloudios.io/export/v1)",
        description="Print the namespace's whole data as JSON (cloudios.io/export/v1).",
        examples=("cloudios data export team-a --chain-key audit-chain.key -o team-a.json",),
    )
    _common(e)
    e.add_argument("-o", "--output-file", metavar="FILE", help="write here (0600) instead of stdout")
    r = command(
        commands,
        "erase",
        summary="delete the namespace's data; audit entries stay, pseudonymous",
        description="Delete every row of the namespace except its audit entries, which keep only "
        "pseudonyms, and print what was deleted.",
        examples=("cloudios data erase team-a --yes --chain-key audit-chain.key",),
    )
    _common(r)
    r.add_argument("--yes", action="store_true", help="confirm: erasure cannot be undone")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("namespace", help="the tenant (namespace) whose data it is")
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="store directory (default $CLOUDIOS_DATA_DIR or ~/.local/share/cloudios)",
    )
    p.add_argument("--chain-key", metavar="FILE", help=f"the audit chain's key (default ${CHAIN_KEY_ENV})")
    p.add_argument(
        "--signing-key",
        metavar="FILE",
        help=f"also sign a checkpoint of the audit log afterwards (default ${SIGNING_KEY_ENV}, if set)",
    )
    p.add_argument("--checkpoints", metavar="DIR", help="checkpoint directory (as for `cloudios audit`)")

"""`cloudios backup`'s options and help."""

from __future__ import annotations

import argparse
import os

from cloudios.cli.commands import EXIT_GATE, EXIT_INPUT, EXIT_OK, SubParsers, command
from cloudios.cli.options import add_store_location

EXIT_CODES = (
    (EXIT_OK, "done"),
    (EXIT_GATE, "the bucket or a backup failed (unreachable, damaged, another master key)"),
    (EXIT_INPUT, "bad input: no bucket or key, a store that is not empty, another schema version"),
)


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "backup",
        summary="encrypted backups of the store in an S3-compatible bucket",
        description="Create, list and restore encrypted backups of the store in an S3-compatible bucket.",
        examples=(
            "cloudios backup create --bucket my-backups --keyset keyset.json",
            "cloudios backup list --bucket my-backups",
            "cloudios backup restore --bucket my-backups --keyset keyset.json --data-dir ./restored",
        ),
        exit_codes=EXIT_CODES,
    )
    commands = p.add_subparsers(dest="backup_command", required=True)
    create = command(
        commands,
        "create",
        summary="back the store up now (and prune backups older than 90 days)",
        description="Write one encrypted backup of the store and prune those older than 90 days.",
        examples=("cloudios backup create --bucket my-backups --keyset keyset.json",),
        exit_codes=EXIT_CODES,
    )
    listing = command(
        commands,
        "list",
        summary="the backups in the bucket, oldest first",
        description="List the backups in the bucket, oldest first.",
        examples=("cloudios backup list --bucket my-backups --prefix cloudios-backups/",),
        exit_codes=EXIT_CODES,
    )
    restore = command(
        commands,
        "restore",
        summary="restore a backup into a new, empty store",
        description="Load the newest backup (or NAME) into an empty store.",
        examples=("cloudios backup restore --bucket my-backups --keyset keyset.json --data-dir ./new",),
        exit_codes=EXIT_CODES,
    )
    restore.add_argument("name", nargs="?", help="the backup object (default: the newest)")
    for c in (create, listing, restore):
        c.add_argument(
            "--bucket",
            default=os.environ.get("CLOUDIOS_BACKUP_BUCKET"),
            help="default $CLOUDIOS_BACKUP_BUCKET",
        )
        c.add_argument("--prefix", default=os.environ.get("CLOUDIOS_BACKUP_PREFIX", "cloudios-backups/"))
        c.add_argument(
            "--endpoint-url",
            default=os.environ.get("CLOUDIOS_BACKUP_ENDPOINT_URL"),
            help="S3-compatible endpoint (default $CLOUDIOS_BACKUP_ENDPOINT_URL, else $AWS_ENDPOINT_URL)",
        )
        c.add_argument("--region", default=os.environ.get("CLOUDIOS_BACKUP_REGION"))
        c.add_argument(
            "--keyset", metavar="FILE", help="master keyset file (default $CLOUDIOS_MASTER_KEY_FILE)"
        )
        add_store_location(c, url=True)

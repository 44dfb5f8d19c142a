"""`cloudios backup create|list|restore`: encrypted store backups in an S3-compatible bucket."""

from __future__ import annotations

import argparse
import os
import sys

import sqlalchemy as sa

from cloudios.cli import options
from cloudios.providers import registry as providers
from cloudios.providers.base import ObjectStoreError, ProviderError
from cloudios.security.keyring import KeyringError
from cloudios.security.keyset import KeysetError
from cloudios.services.backups import BackupError, Backups
from cloudios.services.settings import KeyringSettings
from cloudios.store.backup import RestoreError
from cloudios.store.sql import SqlRepository

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("backup", help="encrypted backups of the store in an S3-compatible bucket")
    commands = p.add_subparsers(dest="backup_command", required=True)
    create = commands.add_parser(
        "create", help="back the store up now (and prune backups older than 90 days)"
    )
    listing = commands.add_parser("list", help="the backups in the bucket, oldest first")
    restore = commands.add_parser("restore", help="restore a backup into a new, empty store")
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
        options.add_store_location(c, url=True)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (KeysetError, KeyringError, RestoreError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_INPUT
    except (BackupError, ObjectStoreError, ProviderError, sa.exc.SQLAlchemyError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    if not args.bucket:
        sys.stderr.write("error: pass --bucket (or set $CLOUDIOS_BACKUP_BUCKET)\n")
        return EXIT_INPUT
    keyset = (KeyringSettings(file=args.keyset) if args.keyset else KeyringSettings()).keyset
    if keyset is None:
        sys.stderr.write(
            "error: backups are encrypted: pass --keyset FILE (or set $CLOUDIOS_MASTER_KEY_FILE)\n"
        )
        return EXIT_INPUT
    bucket = providers.object_store(
        args.bucket, prefix=args.prefix, endpoint_url=args.endpoint_url, region=args.region
    )
    service = Backups(bucket, keyset)
    if args.backup_command == "list":
        for name, when in service.backups():
            sys.stdout.write(f"{name}\t{when.isoformat()}\n")
        return EXIT_OK
    store = (
        SqlRepository(args.database_url, keyset=keyset)
        if args.database_url
        else SqlRepository.sqlite(args.data_dir, keyset=keyset)
    )
    try:
        if args.backup_command == "create":
            name = service.create(store)
            pruned = service.prune()
            sys.stdout.write(f"backed up to {bucket.describe()}{name}; pruned {len(pruned)}\n")
        else:
            name, counts = service.restore(store, args.name)
            sys.stdout.write(f"restored {name}: {sum(counts.values())} rows in {len(counts)} tables\n")
    finally:
        store.close()
    return EXIT_OK

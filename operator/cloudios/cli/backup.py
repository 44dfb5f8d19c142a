"""`cloudios backup create|list|restore`: encrypted store backups in an S3-compatible bucket."""

from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa

from cloudios.providers import registry as providers
from cloudios.providers.base import ObjectStoreError, ProviderError
from cloudios.security.keyring import KeyringError
from cloudios.security.keyset import KeysetError
from cloudios.services.backups import BackupError, Backups
from cloudios.services.settings import KeyringSettings
from cloudios.store.backup import RestoreError
from cloudios.store.sql import SqlRepository

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2


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

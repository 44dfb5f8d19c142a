"""`cloudios data export|erase NAMESPACE`: a tenant's data rights on the local store, audited."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

import sqlalchemy as sa

from cloudios.cli.audit import CHAIN_KEY_ENV, SIGNING_KEY_ENV, UsageError
from cloudios.security import files
from cloudios.security.audit import AuditKeyError, load_chain_key
from cloudios.security.checkpoints import load_signing_key
from cloudios.services.data_rights import DataRights
from cloudios.store.audit import SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory, CheckpointLocationError, checkpoint_dir
from cloudios.store.sql import SqlRepository, data_dir

EXIT_OK, EXIT_INPUT = 0, 2
SOURCE = "cli"


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (UsageError, AuditKeyError, CheckpointLocationError, OSError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_INPUT
    except sa.exc.SQLAlchemyError as exc:
        sys.stderr.write(f"error: cannot use the database: {exc.__class__.__name__}\n")
        return EXIT_INPUT


def _run(args: argparse.Namespace) -> int:
    if args.data_command == "erase" and not args.yes:
        raise UsageError(f"erasing {args.namespace}'s data cannot be undone: add --yes")
    database = data_dir(args.data_dir) / "cloudios.db"
    if not database.is_file():
        raise UsageError(f"no Cloudios database at {database} (use --data-dir)")
    chain = args.chain_key or os.environ.get(CHAIN_KEY_ENV)
    if not chain:
        raise UsageError(
            f"every export and erasure is audited: pass --chain-key FILE (or set ${CHAIN_KEY_ENV})"
        )
    signing_file = args.signing_key or os.environ.get(SIGNING_KEY_ENV)
    signing = load_signing_key(signing_file) if signing_file else None
    stores = [CheckpointDirectory(checkpoint_dir(args.checkpoints, data=args.data_dir))] if signing else []
    store = SqlRepository.sqlite(args.data_dir)
    log = SqlAuditLog.sqlite(args.data_dir, chain_key=load_chain_key(chain))
    try:
        rights = DataRights(store=store, audit=log)
        caller = f"local:{getpass.getuser()}"
        if args.data_command == "export":
            result = rights.export(args.namespace, caller=caller, source=SOURCE)
        else:
            result = rights.erase(args.namespace, caller=caller, source=SOURCE)
        if signing is not None:
            log.checkpoint(signing, stores)
    finally:
        log.close()
        store.close()
    text = json.dumps(result, indent=2) + "\n"
    if args.data_command == "export" and args.output_file:
        files.write_private(Path(args.output_file), text.encode())
    else:
        sys.stdout.write(text)
    return EXIT_OK

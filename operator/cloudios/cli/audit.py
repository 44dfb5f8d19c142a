"""`cloudios audit`: verify the audit chain against signed checkpoints; make keys; sign a checkpoint."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudios.security.audit import (
    AuditFormatError,
    key_id,
    load_public_keys,
    load_signing_key,
    private_key_pem,
    public_key_pem,
)
from cloudios.store.audit import AuditIntegrityError, SqlAuditLog, default_checkpoint_dir
from cloudios.store.sql import data_dir

EXIT_OK, EXIT_BAD, EXIT_INPUT = 0, 1, 2
PUBLIC_KEY_ENV = "CLOUDIOS_AUDIT_PUBLIC_KEY"
SIGNING_KEY_ENV = "CLOUDIOS_AUDIT_SIGNING_KEY"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="verify the tamper-evident audit log")
    commands = p.add_subparsers(dest="audit_command", required=True)
    v = commands.add_parser("verify", help="recompute the chain, check signed checkpoints; print OK or seq")
    _store_args(v)
    v.add_argument(
        "--public-key",
        action="append",
        metavar="FILE",
        help=f"trusted Ed25519 public key PEM (repeatable, one per key in use; default ${PUBLIC_KEY_ENV})",
    )
    c = commands.add_parser("checkpoint", help="sign the current head into the checkpoint directory")
    _store_args(c)
    c.add_argument(
        "--signing-key", metavar="FILE", help=f"Ed25519 private key PEM (default ${SIGNING_KEY_ENV})"
    )
    k = commands.add_parser("keygen", help="create an Ed25519 signing key and its public key")
    k.add_argument("--out-dir", required=True, metavar="DIR", help="writes audit-signing.key and .pub here")


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="store directory (default $CLOUDIOS_DATA_DIR or ~/.local/share/cloudios)",
    )
    p.add_argument(
        "--checkpoints",
        metavar="DIR",
        help="checkpoint directory, kept outside the database "
        "(default $CLOUDIOS_AUDIT_CHECKPOINT_DIR or <data dir>/audit-checkpoints)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        if args.audit_command == "keygen":
            return keygen(Path(args.out_dir))
        database = data_dir(args.data_dir) / "cloudios.db"
        if not database.is_file():
            return _usage(f"no Cloudios database at {database} (use --data-dir)")
        checkpoints = default_checkpoint_dir(args.checkpoints, data=args.data_dir)
        if args.audit_command == "checkpoint":
            return checkpoint(database, checkpoints, args.signing_key or os.environ.get(SIGNING_KEY_ENV))
        keys = args.public_key or ([os.environ[PUBLIC_KEY_ENV]] if os.environ.get(PUBLIC_KEY_ENV) else [])
        return verify(database, checkpoints, keys)
    except (OSError, ValueError, AuditFormatError, AuditIntegrityError, sa.exc.SQLAlchemyError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_INPUT


def _usage(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return EXIT_INPUT


def verify(database: Path, checkpoint_dir: Path, public_key_files: list[str]) -> int:
    external = checkpoint_dir.is_dir() and any(checkpoint_dir.glob("checkpoint-*.json"))
    log = SqlAuditLog(
        f"sqlite:///{database}", checkpoint_dir=checkpoint_dir if external else None, migrate=False
    )
    try:
        if not external and log.recorded_checkpoints():
            return _usage(
                f"the database records checkpoints but {checkpoint_dir} has none: "
                "point --checkpoints at the external checkpoint store"
            )
        if (external or log.recorded_checkpoints()) and not public_key_files:
            return _usage("checkpoints exist: pass --public-key with the key(s) that signed them")
        result = log.verify(load_public_keys(public_key_files))
    finally:
        log.close()
    if not result.ok:
        sys.stdout.write(f"FAILED at seq {result.first_bad_seq}: {result.reason}\n")
        return EXIT_BAD
    sys.stdout.write(f"OK: {result.entries} entries, {result.checkpoints} checkpoints")
    if result.checkpoints:
        sys.stdout.write(f", signed through seq {result.anchored_through}\n")
    else:
        sys.stdout.write(
            "\nwarning: no checkpoints, so only the chain was checked; "
            "dropping the newest entries or rewriting the whole chain would not be detected\n"
        )
    return EXIT_OK


def checkpoint(database: Path, checkpoint_dir: Path, signing_key: str | None) -> int:
    if not signing_key:
        return _usage(f"pass --signing-key (or set ${SIGNING_KEY_ENV})")
    log = SqlAuditLog(f"sqlite:///{database}", checkpoint_dir=checkpoint_dir)
    try:
        cp = log.checkpoint(load_signing_key(signing_key))
    finally:
        log.close()
    sys.stdout.write(
        f"checkpoint {cp.index}: seq {cp.first_seq}..{cp.last_seq}, "
        f"head {cp.head_hash[:16]}…, key {cp.key_id}\n"
    )
    return EXIT_OK


def keygen(out_dir: Path) -> int:
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    private, public = out_dir / "audit-signing.key", out_dir / "audit-signing.pub"
    key = Ed25519PrivateKey.generate()
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
    public.write_bytes(public_key_pem(key.public_key()))
    sys.stdout.write(
        f"wrote {private} (keep it out of the database's reach, e.g. a Secret) and {public}; "
        f"key id {key_id(key.public_key())}\n"
    )
    return EXIT_OK

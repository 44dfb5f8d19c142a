"""`cloudios audit`: verify the audit log against signed checkpoints; make keys; sign a checkpoint."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cloudios.security.audit import AuditKeyError, ChainKey, load_chain_key
from cloudios.security.checkpoints import (
    CheckpointConflictError,
    key_id,
    load_public_keys,
    load_signing_key,
    private_key_pem,
    public_key_pem,
)
from cloudios.sinks.audit_checkpoints import ConfigMapCheckpoints
from cloudios.sinks.kube import ApiError, Kube, describe
from cloudios.store.audit import AuditIntegrityError, CheckpointStore, SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory, CheckpointLocationError, checkpoint_dir
from cloudios.store.sql import data_dir

EXIT_OK, EXIT_BAD, EXIT_INPUT = 0, 1, 2
CHAIN_KEY_ENV = "CLOUDIOS_AUDIT_CHAIN_KEY_FILE"
PUBLIC_KEY_ENV = "CLOUDIOS_AUDIT_PUBLIC_KEY"
SIGNING_KEY_ENV = "CLOUDIOS_AUDIT_SIGNING_KEY_FILE"
DEFAULT_NAMESPACE = "cloudios-system"
CHAIN_KEY_FILE, SIGNING_KEY_FILE, PUBLIC_KEY_FILE = (
    "audit-chain.key",
    "audit-signing.key",
    "audit-signing.pub",
)


class UsageError(Exception):
    """A missing flag, file or database: exit 2 with the fix."""


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except (UsageError, AuditKeyError, CheckpointLocationError, OSError) as exc:
        return _usage(str(exc))
    except sa.exc.SQLAlchemyError as exc:
        return _usage(f"cannot read the database: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    except ApiError as exc:
        return _usage(f"cannot reach the checkpoint ConfigMap: {describe(exc)}")


def _run(args: argparse.Namespace) -> int:
    if args.audit_command == "keygen":
        return keygen(Path(args.out_dir))
    database = data_dir(args.data_dir) / "cloudios.db"
    if not database.is_file():
        raise UsageError(f"no Cloudios database at {database} (use --data-dir)")
    chain_key = load_chain_key(_required(args.chain_key, CHAIN_KEY_ENV, "--chain-key"))
    store = _store(args)
    if args.audit_command == "checkpoint":
        signing = load_signing_key(_required(args.signing_key, SIGNING_KEY_ENV, "--signing-key"))
        return checkpoint(database, chain_key, store, signing)
    keys = args.public_key or ([os.environ[PUBLIC_KEY_ENV]] if os.environ.get(PUBLIC_KEY_ENV) else [])
    if not keys:
        raise UsageError(
            f"pass --public-key with the key(s) that sign checkpoints (or set ${PUBLIC_KEY_ENV})"
        )
    return verify(database, chain_key, store, load_public_keys(keys), min_seq=args.min_seq)


def _required(value: str | None, env: str, flag: str) -> str:
    chosen = value or os.environ.get(env)
    if not chosen:
        raise UsageError(f"pass {flag} FILE (or set ${env})")
    return chosen


def _store(args: argparse.Namespace) -> CheckpointStore:
    if not args.from_cluster:
        return CheckpointDirectory(checkpoint_dir(args.checkpoints, data=args.data_dir))
    try:
        kube = Kube.connect(pool_size=1, timeout=30, kubeconfig=args.kubeconfig)
    except Exception as exc:  # noqa: BLE001 - the kubernetes client raises several kinds; one message
        raise UsageError(f"--from-cluster: cannot load the kubeconfig: {describe(exc)}") from None
    return ConfigMapCheckpoints(kube, args.namespace, args.configmap)


def _usage(message: str) -> int:
    sys.stderr.write(f"error: {message}\n")
    return EXIT_INPUT


def verify(
    database: Path,
    chain_key: ChainKey,
    store: CheckpointStore,
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    min_seq: int,
) -> int:
    log = SqlAuditLog(f"sqlite:///{database}", chain_key=chain_key, migrate=False)
    try:
        result = log.verify(public_keys, store, min_seq=min_seq)
    finally:
        log.close()
    if not result.ok:
        sys.stdout.write(f"FAILED at seq {result.first_bad_seq}: {result.reason}\n")
        return EXIT_BAD
    sys.stdout.write(
        f"OK: {result.entries} entries, {result.checkpoints} checkpoints, signed through seq "
        f"{result.anchored_through} ({store.describe()}); head seq {result.entries} {result.head_hash}\n"
    )
    if result.entries > result.anchored_through:
        sys.stdout.write(
            f"note: seq {result.anchored_through + 1}..{result.entries} are not covered by a checkpoint yet; "
            f"pass --min-seq {result.entries} next time to detect their removal\n"
        )
    return EXIT_OK


def checkpoint(
    database: Path, chain_key: ChainKey, store: CheckpointStore, signing: Ed25519PrivateKey
) -> int:
    log = SqlAuditLog(f"sqlite:///{database}", chain_key=chain_key)
    try:
        cp = log.checkpoint(signing, [store])
    except (AuditIntegrityError, CheckpointConflictError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_BAD
    finally:
        log.close()
    assert cp is not None  # always due without a `due` rule
    sys.stdout.write(
        f"checkpoint {cp.index}: seq {cp.first_seq}..{cp.last_seq}, head {cp.head_hash[:16]}…, "
        f"key {cp.key_id}, in {store.describe()}\n"
    )
    return EXIT_OK


def keygen(out_dir: Path) -> int:
    chain, private, public = write_keys(out_dir)
    signing = load_signing_key(private)
    sys.stdout.write(
        f"wrote {chain} and {private} (0600; keep them out of the database's reach, e.g. in a Secret) "
        f"and {public}; signing key id {key_id(signing.public_key())}\n"
    )
    return EXIT_OK


def write_keys(out_dir: Path) -> tuple[Path, Path, Path]:
    """A new chain key and signing key pair in ``out_dir``: (chain key, signing key, public key)."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    chain, private, public = out_dir / CHAIN_KEY_FILE, out_dir / SIGNING_KEY_FILE, out_dir / PUBLIC_KEY_FILE
    for path in (chain, private):
        if path.exists():
            raise UsageError(f"{path} exists; refusing to overwrite a key (move it away first)")
    key = Ed25519PrivateKey.generate()
    _write_private(chain, ChainKey.generate().to_text())
    _write_private(private, private_key_pem(key))
    public.write_bytes(public_key_pem(key.public_key()))
    return chain, private, public


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)

"""`cloudios audit`'s options and help."""

from __future__ import annotations

import argparse
import os

from cloudios.cli.commands import SubParsers, command

CHAIN_KEY_ENV = "CLOUDIOS_AUDIT_CHAIN_KEY_FILE"
PUBLIC_KEY_ENV = "CLOUDIOS_AUDIT_PUBLIC_KEY"
SIGNING_KEY_ENV = "CLOUDIOS_AUDIT_SIGNING_KEY_FILE"
DEFAULT_NAMESPACE = "cloudios-system"
DEFAULT_CONFIGMAP = "cloudios-audit-checkpoints"
"""The operator's checkpoint ConfigMap (sinks.audit_checkpoints.DEFAULT_NAME; a test keeps them equal)."""
CHAIN_KEY_FILE, SIGNING_KEY_FILE, PUBLIC_KEY_FILE = (
    "audit-chain.key",
    "audit-signing.key",
    "audit-signing.pub",
)
_EXIT_CODES = (
    (0, "done (verify: the chain and every checkpoint hold)"),
    (1, "verify: the log was altered, truncated or a checkpoint does not match"),
    (2, "bad input: a missing flag, key file or database (one line names it)"),
)


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "audit",
        summary="verify the tamper-evident audit log",
        description="Verify the hash-chained audit log against signed checkpoints, sign checkpoints, "
        "and create the keys they need.",
        examples=(
            "cloudios audit keygen --out-dir ./audit-keys",
            "cloudios audit checkpoint --chain-key audit-chain.key --signing-key audit-signing.key",
            "cloudios audit verify --chain-key audit-chain.key --public-key audit-signing.pub",
        ),
        exit_codes=_EXIT_CODES,
    )
    commands = p.add_subparsers(dest="audit_command", required=True)
    v = command(
        commands,
        "verify",
        summary="recompute the chain, check signed checkpoints; print OK or seq",
        description="Recompute the audit chain and check it against every signed checkpoint; print OK "
        "and the head's seq, or the first seq that does not hold.",
        examples=("cloudios audit verify --chain-key audit-chain.key --public-key audit-signing.pub",),
        exit_codes=_EXIT_CODES,
    )
    _store_args(v)
    v.add_argument(
        "--public-key",
        action="append",
        metavar="FILE",
        help=f"trusted Ed25519 public key PEM (repeatable, one per key in use; default ${PUBLIC_KEY_ENV})",
    )
    v.add_argument(
        "--min-seq",
        type=int,
        default=0,
        metavar="N",
        help="the log must still reach seq N (the head an earlier verify printed): catches truncation "
        "of entries no checkpoint covers yet",
    )
    c = command(
        commands,
        "checkpoint",
        summary="sign the current head into the checkpoint store",
        description="Sign the audit log's current head into the checkpoint store.",
        examples=("cloudios audit checkpoint --chain-key audit-chain.key --signing-key audit-signing.key",),
        exit_codes=_EXIT_CODES,
    )
    _store_args(c)
    c.add_argument(
        "--signing-key", metavar="FILE", help=f"Ed25519 private key PEM (default ${SIGNING_KEY_ENV})"
    )
    k = command(
        commands,
        "keygen",
        summary="create the chain key and an Ed25519 signing key pair",
        description="Create the chain's HMAC key and an Ed25519 signing key pair, owner-only.",
        examples=("cloudios audit keygen --out-dir ./audit-keys",),
        exit_codes=_EXIT_CODES,
    )
    k.add_argument(
        "--out-dir",
        required=True,
        metavar="DIR",
        help=f"writes {CHAIN_KEY_FILE} and {SIGNING_KEY_FILE} (0600) and {PUBLIC_KEY_FILE} here",
    )


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="store directory (default $CLOUDIOS_DATA_DIR or ~/.local/share/cloudios)",
    )
    p.add_argument(
        "--chain-key", metavar="FILE", help=f"the chain's HMAC key file (default ${CHAIN_KEY_ENV})"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--checkpoints",
        metavar="DIR",
        help="checkpoint directory, outside the data directory "
        "(default $CLOUDIOS_AUDIT_CHECKPOINT_DIR or ~/.local/state/cloudios/audit-checkpoints)",
    )
    where.add_argument(
        "--from-cluster",
        action="store_true",
        help="use the operator's checkpoint ConfigMap, read through the kubeconfig",
    )
    p.add_argument(
        "--namespace",
        default=os.environ.get("CLOUDIOS_NAMESPACE") or DEFAULT_NAMESPACE,
        help=f"with --from-cluster: the operator's namespace (default {DEFAULT_NAMESPACE})",
    )
    p.add_argument("--configmap", default=DEFAULT_CONFIGMAP, help="with --from-cluster: the ConfigMap's name")
    p.add_argument(
        "--kubeconfig", metavar="FILE", help="with --from-cluster: kubeconfig (default $KUBECONFIG)"
    )

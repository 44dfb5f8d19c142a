"""`cloudios ingest`'s options and help."""

from __future__ import annotations

import argparse

from cloudios.cli.commands import EXIT_INPUT, EXIT_OK, SubParsers, command

DEFAULT_PORT = 8443
PARTS = ("reports", "data-rights")


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "ingest",
        summary="serve agent reports and the data-rights API (export/erase) over TLS 1.3",
        description="Serve the agents' reports and the data-rights API on its own (TLS 1.3 only) until "
        "SIGTERM. Stateless: the store, master key and audit keys come from the operator's CLOUDIOS_* "
        "variables. Without a certificate it generates one and names its CA on stderr.",
        examples=(
            "cloudios ingest --port 8443 --cert-file tls.crt --key-file tls.key",
            "cloudios ingest --serve data-rights --kubeconfig ~/.kube/config",
        ),
        exit_codes=(
            (EXIT_OK, "stopped by SIGTERM or SIGINT"),
            (EXIT_INPUT, "a setting is missing or the API server cannot be reached"),
        ),
    )
    p.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"listen port (default $CLOUDIOS_INGEST_PORT, else {DEFAULT_PORT}; 0 lets the OS choose)",
    )
    p.add_argument("--addr", default=None, help="listen address (default $CLOUDIOS_INGEST_ADDR or 0.0.0.0)")
    p.add_argument(
        "--cert-file", metavar="FILE", help="serving certificate PEM (default $CLOUDIOS_INGEST_CERT_FILE)"
    )
    p.add_argument(
        "--key-file", metavar="FILE", help="its private key PEM (default $CLOUDIOS_INGEST_KEY_FILE)"
    )
    p.add_argument(
        "--kubeconfig",
        metavar="FILE",
        help="for TokenReview/SubjectAccessReview (default: in-cluster or $KUBECONFIG)",
    )
    p.add_argument(
        "--serve",
        default=",".join(PARTS),
        metavar="PARTS",
        help="comma-separated: reports (POST /v1/reports), data-rights (export/erase); default both",
    )

"""`cloudios ingest`: agent reports and the data-rights API (HTTPS, TLS 1.3) as a stateless process.

It reads the same CLOUDIOS_* settings as the operator (store, master key, audit keys and checkpoint
place, CLOUDIOS_INGEST_*), keeps nothing itself (every replica shares the PostgreSQL store), and
serves until SIGTERM or SIGINT. ``--serve reports`` needs only the store: no API server, no audit
keys (the data-rights API needs both).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

from cloudios.ingest import data_rights as rights_api
from cloudios.ingest import server
from cloudios.ingest.reports import ReportsApi
from cloudios.security import tls
from cloudios.services import audit, context, data_rights
from cloudios.services.audit import AuditTrail
from cloudios.services.settings import OperatorSettings, SettingsError
from cloudios.sinks.kube import Kube, describe

EXIT_OK, EXIT_INPUT = 0, 2
DEFAULT_PORT = 8443
PARTS = ("reports", "data-rights")


def _certificate(args: argparse.Namespace, settings: OperatorSettings) -> tuple[Path, Path]:
    cert = args.cert_file or settings.ingest.cert_file
    key = args.key_file or settings.ingest.key_file
    if cert and key:
        return Path(cert), Path(key)
    if cert or key:
        raise SettingsError("pass both --cert-file and --key-file (or neither)")
    served = settings.webhook.files()
    if served is not None:
        return served[0], served[1]
    generated = tls.generate_certificate(
        tempfile.mkdtemp(prefix="cloudios-ingest-tls-"), ["localhost", "127.0.0.1"]
    )
    sys.stderr.write(f"no certificate given: serving a generated one (CA {generated.ca_file})\n")
    return generated.cert_file, generated.key_file


def _parts(value: str, settings: OperatorSettings) -> set[str]:
    parts = {p.strip() for p in value.split(",") if p.strip()}
    unknown = parts - set(PARTS)
    if unknown or not parts:
        raise SettingsError(
            f"--serve: {', '.join(sorted(unknown)) or 'nothing'}; choose from {', '.join(PARTS)}"
        )
    if not settings.ingest.reports:
        parts.discard("reports")
    if not parts:
        raise SettingsError("CLOUDIOS_INGEST_REPORTS=false and --serve reports: nothing to serve")
    return parts


def run(args: argparse.Namespace) -> int:
    kube: Kube | None = None
    trail: AuditTrail | None = None
    try:
        settings = OperatorSettings.from_env(os.environ)
        parts = _parts(args.serve, settings)
        cert, key = _certificate(args, settings)
        if "data-rights" in parts:
            kube = Kube.connect(
                pool_size=4, timeout=settings.request_timeout_seconds, kubeconfig=args.kubeconfig
            )
            trail = audit.open_trail(settings, kube)
    except SettingsError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - a kubeconfig that cannot be loaded: one line
        sys.stderr.write(f"error: cannot connect to the API server: {describe(exc)}\n")
        return EXIT_INPUT
    store = context.open_store(settings.store, settings.keyring.keyset)
    logging.getLogger(server.access_log.name).setLevel(logging.INFO)  # the access log is the point
    port = args.port if args.port is not None else (settings.ingest.port or DEFAULT_PORT)
    rights = None
    if kube is not None and trail is not None:
        rights = rights_api.DataRightsApi(kube, data_rights.in_cluster(store, trail, kube))
    reports = ReportsApi(store, settings.ingest) if "reports" in parts else None
    stop = threading.Event()
    endpoint = server.serve(
        addr=args.addr or settings.ingest.addr,
        port=port,
        cert_file=cert,
        key_file=key,
        rights=rights,
        reports=reports,
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    where = f"https://{args.addr or settings.ingest.addr}:{endpoint.port}"
    sys.stderr.write(f"serving {' and '.join(sorted(parts))} on {where}\n")
    sys.stderr.flush()
    try:
        stop.wait()
    finally:
        endpoint.stop()
        if trail is not None:
            trail.close()
        store.close()
        if kube is not None:
            kube.close()
    return EXIT_OK

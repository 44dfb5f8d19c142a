"""The running GCP emulator: gRPC Monitoring (TLS, test CA) + REST APIs, loaded with estates."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudios.emulators.gcp import data, monitoring, rest
from cloudios.emulators.gcp.estate import Estate
from cloudios.emulators.gcp.identity import Accounts
from cloudios.emulators.gcp.tls import loopback_tls

READER = "cloudios-reader"


@dataclass
class GcpEmulator:
    """Endpoints, the shared wire (faults, call counts) and what is loaded."""

    wire: monitoring.Wire
    rest_url: str
    monitoring_target: str
    ca_file: Path
    _stops: list[Any] = field(default_factory=list, repr=False)

    @property
    def token_uri(self) -> str:
        return f"{self.rest_url}/token"

    def environment(self) -> dict[str, str]:
        """What the provider reads to reach the emulator (see providers/gcp/settings.py)."""
        return {
            "CLOUDIOS_GCP_MONITORING_ENDPOINT": self.monitoring_target,
            "CLOUDIOS_GCP_COMPUTE_ENDPOINT": self.rest_url,
            "CLOUDIOS_GCP_SQLADMIN_ENDPOINT": self.rest_url,
            "CLOUDIOS_GCP_IAMCREDENTIALS_ENDPOINT": self.rest_url,
            "CLOUDIOS_GCP_CA_BUNDLE": str(self.ca_file),
        }

    def load(self, estate: Estate) -> None:
        self.wire.projects[estate.account] = data.build(estate)

    @staticmethod
    def reader_email(project: str) -> str:
        return f"{READER}@{project}.iam.gserviceaccount.com"

    def service_account_key(self, project: str, email: str | None = None) -> dict[str, str]:
        """A JSON key of a service account that may read ``project`` (the reader by default)."""
        return self.wire.accounts.create_key(email or self.reader_email(project), {project}, self.token_uri)

    def outsider_key(self, project: str) -> dict[str, str]:
        """A key of a service account of ``project`` that may read nothing."""
        return self.wire.accounts.create_key(
            f"outsider@{project}.iam.gserviceaccount.com", set(), self.token_uri
        )

    def allow_impersonation(self, source: str, project: str) -> str:
        """Let ``source`` impersonate the project's reader; returns the reader's e-mail."""
        target = self.reader_email(project)
        self.wire.accounts.allow_impersonation(source, target, {project})
        return target

    def stop(self) -> None:
        for stop in self._stops:
            stop()
        shutil.rmtree(self.ca_file.parent, ignore_errors=True)


def start(estates: Iterable[Estate] = ()) -> GcpEmulator:
    """Start both fronts on 127.0.0.1 (random ports) and load ``estates``."""
    tls = loopback_tls()
    folder = Path(tempfile.mkdtemp(prefix="cloudios-gcp-emulator-"))
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(tls.ca_pem)
    wire = monitoring.Wire(accounts=Accounts())
    port, stop_grpc = monitoring.serve(wire, tls.cert_pem, tls.key_pem)
    try:
        url, stop_rest = rest.serve(wire)
    except BaseException:
        stop_grpc()
        raise
    emulator = GcpEmulator(wire, url, f"localhost:{port}", ca_file, [stop_grpc, stop_rest])
    for estate in estates:
        emulator.load(estate)
    return emulator

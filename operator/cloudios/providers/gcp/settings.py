"""Where the GCP provider's clients connect and how hard they try: endpoints, CA, retries, pages.

Production uses Google's endpoints; ``GcpEndpoints.from_environment`` lets the demo, tests and
private endpoints point the clients elsewhere (the variables scan Jobs inherit, never credentials).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MONITORING_ENV = "CLOUDIOS_GCP_MONITORING_ENDPOINT"
COMPUTE_ENV = "CLOUDIOS_GCP_COMPUTE_ENDPOINT"
SQLADMIN_ENV = "CLOUDIOS_GCP_SQLADMIN_ENDPOINT"
IAMCREDENTIALS_ENV = "CLOUDIOS_GCP_IAMCREDENTIALS_ENDPOINT"
CA_BUNDLE_ENV = "CLOUDIOS_GCP_CA_BUNDLE"
ENVIRONMENT = (
    MONITORING_ENV,
    COMPUTE_ENV,
    SQLADMIN_ENV,
    IAMCREDENTIALS_ENV,
    CA_BUNDLE_ENV,
    "GOOGLE_APPLICATION_CREDENTIALS",  # a Workload Identity Federation config file: no secret in it
    "GOOGLE_CLOUD_PROJECT",
)


@dataclass(frozen=True)
class GcpEndpoints:
    """API endpoints: Monitoring is gRPC ``host:port`` over TLS, the others REST base URLs."""

    monitoring: str = "monitoring.googleapis.com:443"
    compute: str = "https://compute.googleapis.com"
    sqladmin: str = "https://sqladmin.googleapis.com"
    iamcredentials: str | None = None
    ca_bundle: str | None = None
    """PEM roots trusted for the gRPC TLS connection (None: the system's)."""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> GcpEndpoints:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            monitoring=env.get(MONITORING_ENV) or default.monitoring,
            compute=(env.get(COMPUTE_ENV) or default.compute).rstrip("/"),
            sqladmin=(env.get(SQLADMIN_ENV) or default.sqladmin).rstrip("/"),
            iamcredentials=env.get(IAMCREDENTIALS_ENV) or None,
            ca_bundle=env.get(CA_BUNDLE_ENV) or None,
        )

    def root_certificates(self) -> bytes | None:
        return Path(self.ca_bundle).read_bytes() if self.ca_bundle else None


@dataclass(frozen=True)
class GcpTuning:
    """Retry, timeout and paging knobs with production defaults; tests lower the waits."""

    retry_initial: float = 1.0
    retry_maximum: float = 32.0
    retry_deadline: float = 300.0
    """Seconds a call keeps retrying RESOURCE_EXHAUSTED / 429 / UNAVAILABLE with backoff and jitter."""
    timeout: float = 60.0
    monitoring_page_size: int = 100_000
    """ListTimeSeries: at most 100,000 points per page (FULL view)."""
    compute_page_size: int = 500
    """Compute list calls: maxResults at most 500."""
    sql_page_size: int = 500

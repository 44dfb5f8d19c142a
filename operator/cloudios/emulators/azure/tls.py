"""The emulator's HTTPS certificate: a throwaway CA the SDK trusts through REQUESTS_CA_BUNDLE.

azure-core refuses bearer tokens over plain HTTP, so the emulator speaks HTTPS with a test CA.
"""

from __future__ import annotations

from pathlib import Path

from cloudios.security.tls import CertificateFiles, generate_certificate

TestCertificates = CertificateFiles
VALIDITY_DAYS = 2


def make_certificates(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> TestCertificates:
    """Write a fresh CA and a server certificate for ``hosts`` (IPs or DNS names) under ``directory``."""
    return generate_certificate(directory, hosts, days=VALIDITY_DAYS, ca_name="cloudios emulator test CA")

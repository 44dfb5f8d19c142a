"""Every port the operator opens speaks TLS 1.3 only: a TLS 1.2 client is refused, plain HTTP gets nothing."""

from __future__ import annotations

import socket
import ssl

import httpx
import pytest

from tests.e2e.harness import Cluster, OperatorFactory, eventually

pytestmark = [pytest.mark.cluster]


def handshake(port: int, version: ssl.TLSVersion, ca: str) -> str:
    context = ssl.create_default_context(cafile=ca)
    context.minimum_version = context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        return str(wrapped.version())


def test_every_listener_refuses_tls_12(operators: OperatorFactory, cluster: Cluster) -> None:
    operator = operators(cluster.namespace)
    ca = operator.env["CLOUDIOS_WEBHOOK_CA_FILE"]
    ports = {"metrics and health": int(operator.env["CLOUDIOS_METRICS_PORT"]),
             "admission webhooks": int(operator.env["CLOUDIOS_WEBHOOK_PORT"])}  # fmt: skip

    def listening() -> bool:
        try:
            return all(handshake(p, ssl.TLSVersion.TLSv1_3, ca) == "TLSv1.3" for p in ports.values())
        except OSError:
            return False

    eventually(listening, timeout=60, what="the operator's listeners")
    for what, port in ports.items():
        with pytest.raises(ssl.SSLError):
            handshake(port, ssl.TLSVersion.TLSv1_2, ca)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=3)
        assert handshake(port, ssl.TLSVersion.TLSv1_3, ca) == "TLSv1.3", what

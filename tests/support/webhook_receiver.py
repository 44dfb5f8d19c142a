"""A local HTTPS webhook receiver (real TLS 1.3 sockets, a test CA) that records every request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cloudios.security import tls

HOST_NAME = "receiver.test"


def outward_address() -> str:
    """This machine's non-loopback address (the one a default route would use): webhooks may not
    go to loopback, so the receiver listens here and tests allow private ranges for their namespace."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: UDP connect only picks a route
        address = str(probe.getsockname()[0])
    if address.startswith("127."):
        pytest.fail("webhook tests need a non-loopback IPv4 address on this machine")
    return address


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks reference verification, written from the spec, not from our signer:
    strip whsec_, base64-decode the key, HMAC-SHA256 over "{id}.{timestamp}.{body}", base64, and
    compare (constant time) with any space-delimited "v1,<sig>" in webhook-signature."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = headers["webhook-id"].encode() + b"." + headers["webhook-timestamp"].encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for candidate in headers["webhook-signature"].split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            return True
    return False


class _TlsHttpServer(ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True


def serve_tls(
    address: tuple[str, int], handler: type[BaseHTTPRequestHandler], certs: tls.CertificateFiles, *, name: str
) -> ThreadingHTTPServer:
    """A threaded HTTPS server (TLS 1.3, the suite's certificates) serving ``handler`` in the
    background; stop it with ``shutdown()`` and ``server_close()``."""
    server = _TlsHttpServer(address, handler)
    context = tls.server_context(certs.cert_file, certs.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
    return server


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers POSTs with ``status`` (and ``location`` for redirects); ``stop``/``start`` keep the port."""

    address: str
    certs: tls.CertificateFiles
    port: int = 0
    status: int = 204
    location: str = ""
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(receiver.status)
                if receiver.location:
                    self.send_header("location", receiver.location)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        server = serve_tls((self.address, self.port), Handler, self.certs, name="webhook receiver")
        self.port = server.server_address[1]
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def url(self, host: str = HOST_NAME, path: str = "/hooks") -> str:
        return f"https://{host}:{self.port}{path}"


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    address = outward_address()
    certs = tls.generate_certificate(tmp_path / "receiver-tls", [HOST_NAME, address])
    found = Receiver(address, certs).start()
    yield found
    found.stop()

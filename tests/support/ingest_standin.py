"""A TLS ingest stand-in for agent tests: records every POST /v1/reports and answers as scripted.

Not the real ingest (cloudios.ingest): it checks only the bearer token, keeps the raw bodies, and
answers each request with the next scripted status (default 202), so tests can see exactly what the
agent put on the wire and how it reacts to 401, 413, 429 or 503.
"""

from __future__ import annotations

import gzip
import json
import ssl
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cloudios.security import tls


@dataclass(frozen=True)
class Received:
    """One request as ingest saw it (the Authorization header kept only as matched / not matched)."""

    path: str
    authorized: bool
    content_encoding: str
    body: bytes
    status: int

    def report(self) -> dict[str, Any]:
        data = gzip.decompress(self.body) if self.content_encoding == "gzip" else self.body
        doc: dict[str, Any] = json.loads(data)
        return doc

    def text(self) -> str:
        return (gzip.decompress(self.body) if self.content_encoding == "gzip" else self.body).decode()


@dataclass
class IngestStandIn:
    workdir: Path
    token: str
    tls_max: ssl.TLSVersion | None = None
    """Set to TLSv1_2 to make a server that cannot speak TLS 1.3 (the agent must refuse it)."""
    received: list[Received] = field(default_factory=list)
    script: deque[tuple[int, dict[str, str], str]] = field(default_factory=deque)
    url: str = ""
    ca_file: Path = Path()
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> IngestStandIn:
        certs = tls.generate_certificate(self.workdir, ["127.0.0.1", "localhost"], ca_name="ingest-test-ca")
        self.ca_file = certs.ca_file
        if self.tls_max is None:
            context = tls.server_context(certs.cert_file, certs.key_file)
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.maximum_version = self.tls_max
            context.load_cert_chain(certs.cert_file, certs.key_file)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                authorized = self.headers.get("Authorization", "") == f"Bearer {standin.token}"
                status, headers, message = standin._next(authorized)
                standin._record(
                    Received(self.path, authorized, self.headers.get("Content-Encoding", ""), body, status)
                )
                payload = json.dumps({"message": message}).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, name="ingest-standin", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def answer(self, status: int, *, headers: dict[str, str] | None = None, message: str = "") -> None:
        """Queue the status the next request gets (then 202 again when the script is empty)."""
        with self._lock:
            self.script.append((status, headers or {}, message))

    def _next(self, authorized: bool) -> tuple[int, dict[str, str], str]:
        with self._lock:
            if self.script:
                return self.script.popleft()
        return (202, {}, "accepted") if authorized else (401, {}, "unknown cluster token")

    def _record(self, item: Received) -> None:
        with self.arrived:
            self.received.append(item)
            self.arrived.notify_all()

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Block until ``count`` requests arrived (or the timeout); returns what arrived."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

"""The operator's HTTPS endpoint: /metrics for authorized scrapers, /healthz and /readyz for the kubelet.

TLS 1.3 only. /metrics follows the controller-runtime "secure metrics" model: a bearer token is
checked with a TokenReview, then a SubjectAccessReview for `get` on the non-resource URL
`/metrics` (bind the chart's `cloudios-metrics-reader` ClusterRole to Prometheus). Answers are
cached for a short time per token digest, so a scrape every 30 s costs the API server little.
/healthz says whether the operator's event loop still beats; neither probe path shows any data.

Every HTTPS endpoint we serve is a ``TlsServer`` with a ``TlsHandler``: TLS 1.3 only, HSTS on every
answer, and one access log line per request (method, path, status, latency, source and what the
handler adds, such as the user or the cluster) that never holds a header value, a query string, a
body or a token. Probe paths log at DEBUG.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import ssl
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Protocol

from cloudios.security import tls
from cloudios.sinks.kube import Reviewer

log = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
HANDSHAKE_TIMEOUT_SECONDS = 10.0
CACHE_MAX = 1024
METRICS_PATH = "/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HSTS = "max-age=63072000; includeSubDomains; preload"
PROBE_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
_SAFE = frozenset(string.ascii_letters + string.digits + string.punctuation)


class Reviews(Protocol):
    """What the endpoint asks the API server (sinks.kube.Kube implements it)."""

    def review_token(self, token: str) -> Reviewer | None: ...

    def may_get_path(self, who: Reviewer, path: str, verb: str = "get") -> bool: ...


@dataclass
class Heartbeat:
    """Beaten by the operator's event loop; stale beats make /healthz fail so the kubelet restarts it."""

    stale_after: float = 60.0
    _last: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self._last = time.monotonic()

    def alive(self) -> bool:
        return time.monotonic() - self._last < self.stale_after


@dataclass
class Authorizer:
    """Bearer token -> 200, 401 (no or unknown token) or 403 (not allowed to get /metrics), cached."""

    reviews: Reviews
    ttl: float = CACHE_SECONDS
    _cache: dict[str, tuple[float, HTTPStatus]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, header: str | None) -> HTTPStatus:
        token = bearer(header)
        if token is None:
            return HTTPStatus.UNAUTHORIZED
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        answer = self._review(token)
        with self._lock:
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            self._cache[key] = (now, answer)
        return answer

    def _review(self, token: str) -> HTTPStatus:
        try:
            who = self.reviews.review_token(token)
            if who is None:
                return HTTPStatus.UNAUTHORIZED
            return HTTPStatus.OK if self.reviews.may_get_path(who, METRICS_PATH) else HTTPStatus.FORBIDDEN
        except Exception as exc:  # noqa: BLE001 - the API server unreachable: refuse, never crash
            log.warning("metrics authorization unavailable: %s", type(exc).__name__)
            return HTTPStatus.SERVICE_UNAVAILABLE


@dataclass
class Endpoint:
    """A running HTTPS endpoint; ``stop()`` shuts it down and frees the port."""

    server: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class TlsServer(ThreadingHTTPServer):
    """A threading HTTP server that speaks only TLS (the context decides: TLS 1.3 minimum)."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, context: ssl.SSLContext
    ) -> None:
        super().__init__(address, handler)
        self.context = context

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        sock.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
        # The handshake runs in the request's thread: a slow client never blocks accept().
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, *_: Any) -> None:
        return  # handshake failures (TLS 1.2 clients, port scanners) are not the operator's errors


def printable(text: str, limit: int = 200) -> str:
    """``text`` for a log line: printable ASCII without spaces, other characters as '?', bounded."""
    return "".join(c if c in _SAFE else "?" for c in text[:limit])


class TlsHandler(BaseHTTPRequestHandler):
    """Completes the handshake in the request's thread; answers carry HSTS; one access log line per
    request. Handlers add fields to ``self.access`` (e.g. ``user``, ``cluster``): only names and
    identities, never a header value, a body or a token."""

    server_version = "cloudios"
    sys_version = ""
    access_log: ClassVar[logging.Logger] = logging.getLogger("cloudios.access")

    def setup(self) -> None:
        self.request.do_handshake()
        super().setup()
        self.started = time.monotonic()
        self.access: dict[str, str] = {}

    def parse_request(self) -> bool:
        self.started = time.monotonic()  # per request on a kept-alive connection
        self.access = {}
        return super().parse_request()

    def end_headers(self) -> None:
        self.send_header("Strict-Transport-Security", HSTS)
        super().end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        del size
        path = str(getattr(self, "path", "") or "").split("?", 1)[0]
        fields = "".join(f" {key}={printable(value or '-', 300)}" for key, value in self.access.items())
        self.access_log.log(
            logging.DEBUG if path in PROBE_PATHS else logging.INFO,
            "%s %s %s%s source=%s latency_ms=%.1f",
            printable(str(getattr(self, "command", "") or "-"), 16),
            printable(path) or "-",
            int(code) if isinstance(code, int) else printable(str(code), 8),
            fields,
            self.client_address[0],
            (time.monotonic() - self.started) * 1000,
        )

    def log_message(self, *_: Any) -> None:
        return  # http.server's own lines (errors with request text) are replaced by log_request


def start(server: TlsServer, name: str) -> Endpoint:
    """Serve in a daemon thread until ``stop()``."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return Endpoint(server, thread)


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    scheme, _, token = (header or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class _Server(TlsServer):
    def __init__(
        self,
        address: tuple[str, int],
        *,
        context: ssl.SSLContext,
        exposition: Callable[[], bytes],
        authorize: Callable[[str | None], HTTPStatus],
        heartbeat: Heartbeat,
    ) -> None:
        super().__init__(address, _Handler, context=context)
        self.exposition = exposition
        self.authorize = authorize
        self.heartbeat = heartbeat


class _Handler(TlsHandler):
    server: _Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/healthz", "/livez"):
            ok = self.server.heartbeat.alive()
            self._send(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, b"ok\n" if ok else b"stale\n")
        elif path == "/readyz":
            self._send(HTTPStatus.OK, b"ok\n")
        elif path == METRICS_PATH:
            status = self.server.authorize(self.headers.get("Authorization"))
            if status is HTTPStatus.OK:
                self._send(status, self.server.exposition(), CONTENT_TYPE)
            else:
                self._send(status, f"{status.value} {status.phrase}\n".encode())
        else:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n")

    def _send(self, status: HTTPStatus, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if status is HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="cloudios-metrics"')
        self.end_headers()
        self.wfile.write(body)


def serve(
    *,
    addr: str,
    port: int,
    cert_file: Path,
    key_file: Path,
    exposition: Callable[[], bytes],
    authorize: Callable[[str | None], HTTPStatus],
    heartbeat: Heartbeat,
) -> Endpoint:
    """Start the endpoint in a daemon thread (port 0 lets the OS choose)."""
    server = _Server(
        (addr, port),
        context=tls.server_context(cert_file, key_file),
        exposition=exposition,
        authorize=authorize,
        heartbeat=heartbeat,
    )
    return start(server, "cloudios-endpoint")

"""TEST FRONT PROXY for metrics.k8s.io: serves that group from a scripted source, passes the rest through.

In a real cluster metrics-server answers ``/apis/metrics.k8s.io/...`` at the API server's URL
through the aggregation layer. The test kube-apiserver cannot reach a backend on loopback (it
refuses loopback Endpoints for an APIService), so tests point the agent at this proxy instead:
- ``/apis/metrics.k8s.io/v1beta1/...`` is answered here from ``source`` (PodMetrics built from
  scripted usage), after asking the real API server, with the caller's own bearer token, whether
  the caller may list that resource (a SelfSubjectAccessReview): RBAC is enforced as it would be;
- every other request is passed, bytes unchanged, over TLS to the real API server (with
  ``Connection: close`` so each forwarded request gets its own upstream connection); watches stream.
``fail_next`` makes the next matching pass-through request fail with a given status (tests of 410
handling). Test code only: the agent never knows it is talking to a proxy.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from cloudios.security import tls

PREFIX = "/apis/metrics.k8s.io/"
HEAD_LIMIT = 64 * 1024


@dataclass(frozen=True)
class ContainerUsage:
    name: str
    cpu: str
    memory: str


@dataclass(frozen=True)
class PodUsage:
    namespace: str
    name: str
    containers: tuple[ContainerUsage, ...]


Source = Callable[[], list[PodUsage]]


@dataclass
class MetricsProxy:
    """The running proxy: ``url`` and ``ca_file`` go into the agent's kubeconfig."""

    upstream: str
    upstream_ca: Path
    source: Source
    workdir: Path
    url: str = ""
    ca_file: Path = Path()
    metrics_requests: int = 0
    passed_requests: int = 0
    _faults: list[tuple[str, int]] = field(default_factory=list)
    _sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _last_stamp: float = 0.0
    _allowed: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def start(self) -> MetricsProxy:
        certs = tls.generate_certificate(
            self.workdir, ["127.0.0.1", "localhost"], ca_name="metrics-proxy-test-ca"
        )
        self.ca_file = certs.ca_file
        self._server_tls = tls.server_context(certs.cert_file, certs.key_file)
        self._upstream_tls = ssl.create_default_context(cafile=str(self.upstream_ca))
        parts = urlsplit(self.upstream)
        self._upstream_addr = (parts.hostname or "127.0.0.1", parts.port or 443)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, name="metrics-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()

    def fail_next(self, path_prefix: str, status: int) -> None:
        """The next pass-through request whose path starts with ``path_prefix`` gets ``status``."""
        with self._lock:
            self._faults.append((path_prefix, status))

    # -- connections --------------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._connection, args=(raw,), daemon=True).start()

    def _connection(self, raw: socket.socket) -> None:
        try:
            conn = self._server_tls.wrap_socket(raw, server_side=True)
        except OSError:
            raw.close()
            return
        with contextlib.closing(conn):
            buffer = b""
            while True:
                try:
                    head, buffer = _read_head(conn, buffer)
                except OSError:
                    return
                if head is None:
                    return
                request_line, headers = _parse_head(head)
                method, target = request_line.split(" ")[:2]
                if target.startswith(PREFIX):
                    length = int(headers.get("content-length", "0"))
                    while len(buffer) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                    buffer = buffer[length:]
                    status, body = self._metrics(method, target, headers.get("authorization", ""))
                    _respond(conn, status, body, close=False)
                    continue
                fault = self._take_fault(target)
                if fault is not None:
                    _respond(conn, fault, _status_body(fault, "injected by the test front proxy"), close=True)
                    return
                self._forward(conn, head, buffer)
                return

    def _take_fault(self, target: str) -> int | None:
        with self._lock:
            for i, (prefix, status) in enumerate(self._faults):
                if target.startswith(prefix):
                    del self._faults[i]
                    return status
        return None

    def _forward(self, conn: ssl.SSLSocket, head: bytes, rest: bytes) -> None:
        self.passed_requests += 1
        lines = head.split(b"\r\n")
        kept = [ln for ln in lines[1:] if ln and not ln.lower().startswith(b"connection:")]
        new_head = b"\r\n".join([lines[0], *kept, b"Connection: close", b"", b""])
        try:
            upstream = self._upstream_tls.wrap_socket(
                socket.create_connection(self._upstream_addr, timeout=30),
                server_hostname=self._upstream_addr[0],
            )
            upstream.sendall(new_head + rest)
        except OSError:  # the API server is restarting or stopping: what a client would see too
            _respond(conn, 502, _status_body(502, "API server unreachable"), close=True)
            return
        with contextlib.closing(upstream), contextlib.suppress(OSError):
            _relay(conn, upstream)

    # -- metrics.k8s.io -----------------------------------------------------------------------

    def _metrics(self, method: str, target: str, authorization: str) -> tuple[int, bytes]:
        self.metrics_requests += 1
        parts = urlsplit(target)
        path = parts.path.rstrip("/").split("/")
        # /apis/metrics.k8s.io/v1beta1[/namespaces/<ns>]/<resource>
        if method != "GET" or len(path) < 4 or path[3] != "v1beta1":
            return 404, _status_body(404, "not found")
        if len(path) == 4:
            return 200, json.dumps(_DISCOVERY).encode()
        namespace = path[5] if len(path) >= 7 and path[4] == "namespaces" else ""
        resource = path[-1]
        if resource not in {"pods", "nodes"}:
            return 404, _status_body(404, f"{resource} not found")
        if not self._may_list(authorization, resource, namespace):
            return 403, _status_body(403, f"forbidden: cannot list {resource}.metrics.k8s.io")
        if resource == "nodes":
            return 200, json.dumps({"kind": "NodeMetricsList", "apiVersion": "metrics.k8s.io/v1beta1",
                                    "metadata": {}, "items": []}).encode()  # fmt: skip
        selector = parse_qs(parts.query).get("fieldSelector")
        del selector  # not supported by this stand-in; the agent does not use it
        stamp = self._stamp()
        items = [
            {
                "metadata": {"name": p.name, "namespace": p.namespace, "creationTimestamp": stamp},
                "timestamp": stamp,
                "window": "30s",
                "containers": [
                    {"name": c.name, "usage": {"cpu": c.cpu, "memory": c.memory}} for c in p.containers
                ],
            }
            for p in self.source()
            if not namespace or p.namespace == namespace
        ]
        doc = {
            "kind": "PodMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": items,
        }
        return 200, json.dumps(doc, separators=(",", ":")).encode()

    def _stamp(self) -> str:
        """A fresh timestamp per answer (at least one second later): each answer is a new sample."""
        with self._lock:
            self._last_stamp = max(time.time(), self._last_stamp + 1)
            return datetime.fromtimestamp(int(self._last_stamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _may_list(self, authorization: str, resource: str, namespace: str) -> bool:
        if not authorization.lower().startswith("bearer "):
            return False
        key = (authorization, resource, namespace)
        with self._lock:
            if self._allowed.get(key, 0.0) > time.monotonic():
                return True
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"group": "metrics.k8s.io", "resource": resource,
                                            "verb": "list", "namespace": namespace}},
        }  # fmt: skip
        response = httpx.post(
            f"{self.upstream}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            json=review,
            headers={"Authorization": authorization},
            verify=self._upstream_tls,
            timeout=10,
        )
        allowed = response.status_code == 201 and bool(response.json().get("status", {}).get("allowed"))
        if allowed:
            with self._lock:
                self._allowed[key] = time.monotonic() + 30
        return allowed


_DISCOVERY = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "metrics.k8s.io/v1beta1",
    "resources": [
        {
            "name": "nodes",
            "singularName": "",
            "namespaced": False,
            "kind": "NodeMetrics",
            "verbs": ["get", "list"],
        },
        {
            "name": "pods",
            "singularName": "",
            "namespaced": True,
            "kind": "PodMetrics",
            "verbs": ["get", "list"],
        },
    ],
}


def _relay(client: ssl.SSLSocket, upstream: ssl.SSLSocket) -> None:
    """Copy bytes both ways on one thread (an SSL socket must not be read and written concurrently)
    until either side closes: the upstream after its response, the client when it drops a watch."""
    client.settimeout(30)
    while True:
        ready = [s for s in (upstream, client) if s.pending()]
        if not ready:
            ready, _, _ = select.select([upstream, client], [], [], 1.0)
        for side in ready:
            try:
                data = side.recv(65536)
            except (ssl.SSLWantReadError, TimeoutError):
                continue
            if not data:
                return
            (client if side is upstream else upstream).sendall(data)


def _read_head(conn: ssl.SSLSocket, buffer: bytes) -> tuple[bytes | None, bytes]:
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > HEAD_LIMIT:
            return None, b""
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def _status_body(code: int, message: str) -> bytes:
    reason = {403: "Forbidden", 404: "NotFound", 410: "Expired"}.get(code, "InternalError")
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": message, "reason": reason, "code": code}  # fmt: skip
    return json.dumps(status).encode()


def _respond(conn: ssl.SSLSocket, status: int, body: bytes, *, close: bool) -> None:
    head = (
        f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    conn.sendall(head.encode() + body)

"""The Azure emulator's HTTPS server: Entra token endpoint, Resource Graph and the ARM metrics API.

One ``ThreadingHTTPServer`` on 127.0.0.1 with TLS 1.3 from a test CA serves, over their real wire
formats, what the official SDKs call:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and ``POST /{tenant}/oauth2/v2.0/token``
  (client secret or a federated client assertion, as azure-identity sends them);
* ``POST /providers/Microsoft.ResourceGraph/resources`` (azure-mgmt-resourcegraph): the queries
  Cloudios sends, recognised by their ``type =~ '...'`` filter (no general KQL), paged by
  ``$top``/``$skipToken``;
* ``POST /subscriptions/{id}/providers/Microsoft.Insights/metrics`` (azure-mgmt-monitor,
  subscription-scope multi-resource metrics): at most 50 resources of one region and type per call
  (``Microsoft.ResourceId eq '...' or ...``), at most 20 metrics, daily interval (P1D) only,
  ``top`` series per metric (default 10, as Azure);
* ``GET {resourceUri}/providers/Microsoft.Insights/metrics`` (Metrics - List on one resource, what
  per-resource tools call; the benchmark's baseline).

Tokens are opaque; each maps to a principal, and a principal sees only its subscriptions.
``throttle(api, statuses)`` makes the next calls of an API answer 429 (with Retry-After) or 529.
"""

from __future__ import annotations

import json
import re
import secrets
import ssl
import threading
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudios.emulators.azure import series
from cloudios.emulators.azure.estate import Estate
from cloudios.emulators.azure.tls import TestCertificates

MAX_RESOURCES_PER_CALL = 50
MAX_METRICS_PER_CALL = 20
DEFAULT_TOP = 10
GRAPH_PAGE = 1000
TYPE_FILTER = re.compile(r"type\s*=~\s*'([^']+)'", re.IGNORECASE)
ID_FILTER = re.compile(r"Microsoft\.ResourceId\s+eq\s+'([^']+)'", re.IGNORECASE)
UNITS = {"percentage_cpu": "Percent", "available_memory_bytes": "Bytes"}


@dataclass(frozen=True)
class Principal:
    """An identity the token endpoint accepts: a client secret or a federated token (workload identity)."""

    tenant_id: str
    client_id: str
    secret: str | None = field(default=None, repr=False)
    federated_token: str | None = field(default=None, repr=False)
    subscriptions: frozenset[str] | None = None  # None: every loaded subscription


@dataclass
class MetricsCall:
    """What one metrics call asked for (tests check batching against it)."""

    subscription: str
    region: str
    namespace: str
    resources: int
    metrics: tuple[str, ...]


class AzureEmulator:
    """State and lifecycle of one emulator; start() binds, stop() shuts down."""

    def __init__(
        self, estates: Iterable[Estate], principals: Iterable[Principal], tls: TestCertificates
    ) -> None:
        self.estates = {e.account.lower(): e for e in estates}
        self.principals = {p.client_id.lower(): p for p in principals}
        self.tls = tls
        self.end = datetime.now(UTC).date()
        self.calls: Counter[str] = Counter()
        self.metrics_calls: list[MetricsCall] = []
        self._tokens: dict[str, Principal] = {}
        self._throttle: dict[str, deque[int]] = {}
        self._series: dict[tuple[str, str, str], list[series.Day]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"https://{host!s}:{port}"

    def start(self, port: int = 0) -> AzureEmulator:
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_3
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="azure-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve(self, estate: Estate) -> None:
        """Serve (or replace) one subscription's estate."""
        with self._lock:
            self.estates[estate.account.lower()] = estate
            self._series = {k: v for k, v in self._series.items() if k[0] != estate.account.lower()}

    def allow(self, principal: Principal) -> None:
        """Accept (or replace) an identity at the token endpoint."""
        with self._lock:
            self.principals[principal.client_id.lower()] = principal

    def throttle(self, api: str, statuses: Iterable[int]) -> None:
        """Answer the next calls of ``api`` (token|graph|metrics) with these statuses, in order."""
        with self._lock:
            self._throttle.setdefault(api, deque()).extend(statuses)

    def next_throttle(self, api: str) -> int | None:
        with self._lock:
            queue = self._throttle.get(api)
            return queue.popleft() if queue else None

    def issue(self, principal: Principal) -> str:
        token = "emu." + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = principal
        return token

    def principal_of(self, token: str) -> Principal | None:
        with self._lock:
            return self._tokens.get(token)

    def days(self, estate: Estate, resource_id: str, metric: str) -> list[series.Day]:
        key = (estate.account.lower(), resource_id.lower(), metric)
        found = self._series.get(key)
        if found is None:
            resource = estate.by_id().get(resource_id.lower())
            found = [] if resource is None else series.daily(resource, metric, self.end, estate.lookback_days)
            self._series[key] = found
        return found

    def visible(self, principal: Principal, subscription: str) -> Estate | None:
        allowed = principal.subscriptions
        if allowed is not None and subscription.lower() not in {s.lower() for s in allowed}:
            return None
        return self.estates.get(subscription.lower())


def _handler(emulator: AzureEmulator) -> type[BaseHTTPRequestHandler]:
    from cloudios.emulators.azure import handlers  # noqa: PLC0415 - the request logic lives apart

    class Handler(handlers.Handler):
        owner = emulator

    return Handler


def day_stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def json_body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def query_of(path: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(path).query).items()}


__all__ = ["MAX_METRICS_PER_CALL", "MAX_RESOURCES_PER_CALL", "AzureEmulator", "MetricsCall", "Principal"]

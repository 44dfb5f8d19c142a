"""The ingest listener: HTTPS (TLS 1.3 only, HSTS) serving agent reports and the data-rights API.

    POST   /v1/reports                       agent reports (ingest/reports.py), cluster token
    GET    /api/v1/namespaces/{ns}/export    data rights (ingest/data_rights.py), Kubernetes token
    DELETE /api/v1/namespaces/{ns}/data
    GET    /healthz, /readyz                 probes

One access log line per request (logger ``cloudios.ingest.access``): method, path, status, latency,
source address, and the cluster (``tenant/cluster``) or the data-rights user; never a header value,
a query string, a body or a token. HTTP/1.1 keep-alive, so an agent reuses its TLS connection.
"""

from __future__ import annotations

import json
import logging
import ssl
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar

from cloudios.ingest.data_rights import ApiError, DataRightsApi
from cloudios.ingest.reports import ReportsApi
from cloudios.security import tls
from cloudios.sinks.endpoint import Endpoint, TlsHandler, TlsServer, start
from cloudios.sinks.kube import describe
from cloudios_agent import wire

access_log = logging.getLogger("cloudios.ingest.access")
log = logging.getLogger(__name__)


class IngestServer(TlsServer):
    def __init__(
        self,
        address: tuple[str, int],
        *,
        context: ssl.SSLContext,
        rights: DataRightsApi | None,
        reports: ReportsApi | None,
    ) -> None:
        super().__init__(address, _Handler, context=context)
        self.rights = rights
        self.reports = reports


class _Handler(TlsHandler):
    server: IngestServer
    protocol_version = "HTTP/1.1"
    access_log: ClassVar[logging.Logger] = access_log

    def do_GET(self) -> None:  # noqa: N802 - http.server names handlers by method
        if self.path.split("?", 1)[0] in ("/healthz", "/readyz"):
            self._answer(HTTPStatus.OK, {"status": "ok"})
            return
        self._rights("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server names handlers by method
        if self.path.split("?", 1)[0] == wire.PATH and self.server.reports is not None:
            answer = self.server.reports.handle(self.headers, self.rfile.read, str(self.client_address[0]))
            if answer.cluster:
                self.access["cluster"] = answer.cluster
            self.close_connection = self.close_connection or not answer.body_read
            self._answer(answer.status, answer.body, answer.headers)
            return
        self._rights("POST")

    def do_DELETE(self) -> None:  # noqa: N802 - http.server names handlers by method
        self._rights("DELETE")

    def do_PUT(self) -> None:  # noqa: N802 - http.server names handlers by method
        self._rights("PUT")

    def _rights(self, method: str) -> None:
        self.close_connection = True  # no request body is read here: never reuse the connection
        if self.server.rights is None:
            self._answer(HTTPStatus.NOT_FOUND, {"status": 404, "error": "no such path"})
            return
        try:
            body, user = self.server.rights.handle(
                method, self.path, self.headers.get("Authorization"), str(self.client_address[0])
            )
        except ApiError as exc:
            self._answer(exc.status, {"status": exc.status.value, "error": str(exc)}, realm="data-rights")
            return
        except Exception as exc:  # noqa: BLE001 - one line, no traceback with request data
            log.error("data-rights request failed: %s", describe(exc))  # noqa: TRY400
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            self._answer(status, {"status": status.value, "error": "internal error, see the operator log"})
            return
        self.access["user"] = user
        self._answer(HTTPStatus.OK, body)

    def _answer(
        self,
        status: HTTPStatus,
        body: Any,
        headers: Any = None,
        *,
        realm: str = "data-rights",
    ) -> None:
        data = json.dumps(body, indent=None, separators=(",", ":")).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status is HTTPStatus.UNAUTHORIZED and not (headers or {}).get("WWW-Authenticate"):
            self.send_header("WWW-Authenticate", f'Bearer realm="cloudios-{realm}"')
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)


def serve(
    *,
    addr: str,
    port: int,
    cert_file: Path,
    key_file: Path,
    rights: DataRightsApi | None = None,
    reports: ReportsApi | None = None,
) -> Endpoint:
    """Start the ingest listener in a daemon thread (port 0 lets the OS choose)."""
    server = IngestServer(
        (addr, port), context=tls.server_context(cert_file, key_file), rights=rights, reports=reports
    )
    return start(server, "cloudios-ingest")

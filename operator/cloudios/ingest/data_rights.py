"""The data-rights API over HTTPS (TLS 1.3): export and erase a namespace's data.

    GET    /api/v1/namespaces/{ns}/export   200 application/json (schema cloudios.io/export/v1)
    DELETE /api/v1/namespaces/{ns}/data     200 application/json (what was erased)

A bearer token is checked with a TokenReview, then a SubjectAccessReview for the custom verb
`export` or `erase` on `tenantdata.cloudios.io` in that namespace (only the cloudios-owner role holds
them). Every answer carries HSTS; the access log names method, path, status, user and address,
never a token or a body. Errors are JSON: {"status": 4xx, "error": "..."}.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol

from cloudios.security import tls
from cloudios.services.data_rights import DataRights, Operation
from cloudios.sinks.endpoint import Endpoint, TlsHandler, TlsServer, bearer, start
from cloudios.sinks.kube import Reviewer, describe

RESOURCE = "tenantdata"
"""The RBAC resource (group cloudios.io) that the `export` and `erase` verbs are granted on."""
_ROUTES: dict[tuple[str, str], Operation] = {("GET", "export"): "export", ("DELETE", "data"): "erase"}
_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<what>[^/]+)$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

access_log = logging.getLogger("cloudios.ingest.access")
log = logging.getLogger(__name__)


class Reviews(Protocol):
    """The API server's reviews (sinks.kube.Kube implements them)."""

    def review_token(self, token: str) -> Reviewer | None: ...

    def may_on_resource(self, who: Reviewer, *, namespace: str, verb: str, resource: str) -> bool: ...


class ApiError(Exception):
    """An answer other than 200, with the message its JSON body carries."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class DataRightsApi:
    """Routes, authenticates, authorizes and runs one request; no HTTP plumbing."""

    reviews: Reviews
    rights: DataRights

    def handle(self, method: str, path: str, header: str | None, source: str) -> tuple[Any, str]:
        """(JSON answer, the caller's username); ApiError for every refusal."""
        operation, namespace = self._route(method, path)
        token = bearer(header)
        if token is None:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "a bearer token is required (Authorization: Bearer …)")
        try:
            who = self.reviews.review_token(token)
            allowed = who is not None and self.reviews.may_on_resource(
                who, namespace=namespace, verb=operation, resource=RESOURCE
            )
        except Exception as exc:  # noqa: BLE001 - the API server unreachable: refuse, never crash
            log.warning("data-rights authorization unavailable: %s", describe(exc))
            raise ApiError(
                HTTPStatus.SERVICE_UNAVAILABLE, "the API server cannot review the request"
            ) from None
        if who is None:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "the token is not valid")
        if not allowed:
            self.rights.denied(namespace, operation, caller=who.username, source=source)
            raise ApiError(
                HTTPStatus.FORBIDDEN,
                f"{operation} needs the cloudios-owner role in namespace {namespace} "
                f"(verb {operation} on {RESOURCE}.cloudios.io)",
            )
        if operation == "export":
            return self.rights.export(namespace, caller=who.username, source=source), who.username
        return self.rights.erase(namespace, caller=who.username, source=source), who.username

    @staticmethod
    def _route(method: str, path: str) -> tuple[Operation, str]:
        match = _PATH.match(path.split("?", 1)[0])
        if match is None or match["what"] not in {"export", "data"}:
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "no such path: use GET /api/v1/namespaces/{ns}/export or DELETE /api/v1/namespaces/{ns}/data",
            )
        operation = _ROUTES.get((method, match["what"]))
        if operation is None:
            allowed = "GET" if match["what"] == "export" else "DELETE"
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, f"{match['what']} accepts {allowed} only")
        if not _NAMESPACE.match(match["ns"]):
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "the namespace must be a DNS label: lower-case letters, digits and '-', at most 63",
            )
        return operation, match["ns"]


class _Server(TlsServer):
    def __init__(self, address: tuple[str, int], *, context: ssl.SSLContext, api: DataRightsApi) -> None:
        super().__init__(address, _Handler, context=context)
        self.api = api


class _Handler(TlsHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server names handlers by method
        if self.path.split("?", 1)[0] in ("/healthz", "/readyz"):
            self._answer(HTTPStatus.OK, {"status": "ok"}, user="")
            return
        self._serve("GET")

    def do_DELETE(self) -> None:  # noqa: N802 - http.server names handlers by method
        self._serve("DELETE")

    def do_POST(self) -> None:  # noqa: N802 - http.server names handlers by method
        self._serve("POST")

    def do_PUT(self) -> None:  # noqa: N802 - http.server names handlers by method
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        source = str(self.client_address[0])
        user = ""
        try:
            body, user = self.server.api.handle(method, self.path, self.headers.get("Authorization"), source)
        except ApiError as exc:
            self._answer(exc.status, {"status": exc.status.value, "error": str(exc)}, user=user)
            return
        except Exception as exc:  # noqa: BLE001 - one line, no traceback with request data
            log.error("data-rights request failed: %s", describe(exc))  # noqa: TRY400
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            self._answer(
                status, {"status": status.value, "error": "internal error, see the operator log"}, user=user
            )
            return
        self._answer(HTTPStatus.OK, body, user=user)

    def _answer(self, status: HTTPStatus, body: Any, *, user: str) -> None:
        data = json.dumps(body, indent=None, separators=(",", ":")).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if status is HTTPStatus.UNAUTHORIZED:
            self.send_header("WWW-Authenticate", 'Bearer realm="cloudios-data-rights"')
        self.end_headers()
        self.wfile.write(data)
        # The access log: never the token, the query string or a body.
        access_log.info(
            "%s %s %d user=%s source=%s bytes=%d",
            self.command,
            self.path.split("?", 1)[0][:200],
            status.value,
            user or "-",
            self.client_address[0],
            len(data),
        )

    def log_message(self, *_: Any) -> None:
        return  # replaced by the access log above


def serve(*, addr: str, port: int, cert_file: Path, key_file: Path, api: DataRightsApi) -> Endpoint:
    """Start the data-rights listener in a daemon thread (port 0 lets the OS choose)."""
    server = _Server((addr, port), context=tls.server_context(cert_file, key_file), api=api)
    return start(server, "cloudios-ingest")

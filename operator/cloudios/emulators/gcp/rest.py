"""Compute Engine, Cloud SQL Admin, OAuth 2.0 token and IAM Credentials over HTTP on loopback.

Paths and JSON shapes are Google's (``/compute/v1/projects/{p}/aggregated/instances``,
``/v1/projects/{p}/instances``, ``/token``, ``...:generateAccessToken``) so the official clients
talk to it unchanged; ``maxResults`` and ``pageToken`` page every list. Errors use Google's JSON
error body; throttling answers 429 RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import json
import re
import threading
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cloudios.emulators.gcp.monitoring import Wire

_AGGREGATED = re.compile(r"^/compute/v1/projects/([^/]+)/aggregated/(instances|disks|addresses)$")
_GLOBAL = re.compile(r"^/compute/v1/projects/([^/]+)/global/(snapshots|images|addresses)$")
_PROJECT = re.compile(r"^/compute/v1/projects/([^/]+)$")
_SQL = re.compile(r"^/v1/projects/([^/]+)/instances$")
_IMPERSONATE = re.compile(r"^/v1/projects/-/serviceAccounts/([^/:]+):generateAccessToken$")
_OPERATION = {
    "instances": "compute.instances.aggregatedList",
    "disks": "compute.disks.aggregatedList",
    "addresses": "compute.addresses.aggregatedList",
}
_GLOBAL_OPERATION = {
    "snapshots": "compute.snapshots.list",
    "images": "compute.images.list",
    "addresses": "compute.globalAddresses.list",
}


class HttpError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


def _page(
    items: list[dict[str, Any]], query: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], str | None]:
    size = min(int(query.get("maxResults", ["500"])[0]), 500)
    offset = int(query.get("pageToken", ["0"])[0])
    end = offset + size
    return items[offset:end], (str(end) if end < len(items) else None)


Query = dict[str, list[str]]


class Api:
    """The emulated REST methods; each takes the path match, query, body and Authorization header."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire

    def _reader(self, authorization: str | None, project: str, permission: str, api: str | None) -> None:
        if api is not None and self.wire.take_fault(api):
            raise HttpError(429, "RESOURCE_EXHAUSTED", "Quota exceeded: rate of read requests.")
        who = self.wire.accounts.who(authorization)
        if who is None:
            raise HttpError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if project not in self.wire.projects or not self.wire.accounts.may_read(who, project):
            raise HttpError(
                403, "PERMISSION_DENIED", f"Required '{permission}' permission for 'projects/{project}'"
            )

    def aggregated(self, m: re.Match[str], query: Query, auth: str | None) -> dict[str, Any]:
        project, collection = m[1], m[2]
        self.wire.count(_OPERATION[collection])
        self._reader(auth, project, _OPERATION[collection], "compute")
        items, token = _page(self.wire.projects[project].compute.get(collection, []), query)
        grouped: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for item in items:
            if item["_scope"] != "global":
                grouped.setdefault(item["_scope"], {}).setdefault(collection, []).append(_public(item))
        return {"kind": f"compute#{collection}AggregatedList", "items": grouped, **_next(token)}

    def global_list(self, m: re.Match[str], query: Query, auth: str | None) -> dict[str, Any]:
        project, collection = m[1], m[2]
        self.wire.count(_GLOBAL_OPERATION[collection])
        self._reader(auth, project, _GLOBAL_OPERATION[collection], "compute")
        every = [
            i
            for i in self.wire.projects[project].compute.get(collection, [])
            if collection != "addresses" or i["_scope"] == "global"
        ]
        items, token = _page(every, query)
        return {"items": [_public(i) for i in items], **_next(token)}

    def project(self, m: re.Match[str], _query: Query, auth: str | None) -> dict[str, Any]:
        self.wire.count("compute.projects.get")
        self._reader(auth, m[1], "compute.projects.get", None)
        return {"kind": "compute#project", "name": m[1], "id": str(zlib.crc32(m[1].encode()))}

    def sql(self, m: re.Match[str], query: Query, auth: str | None) -> dict[str, Any]:
        self.wire.count("sqladmin.instances.list")
        self._reader(auth, m[1], "cloudsql.instances.list", "sqladmin")
        items, token = _page(self.wire.projects[m[1]].sql, query)
        return {"items": items, **_next(token)}

    def token(self, body: bytes) -> dict[str, Any]:
        form = parse_qs(body.decode())
        self.wire.count("oauth2.token")
        if form.get("grant_type", [""])[0] != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            raise HttpError(400, "invalid_grant", "unsupported grant_type")
        token = self.wire.accounts.exchange(form.get("assertion", [""])[0])
        if token is None:
            raise HttpError(400, "invalid_grant", "Invalid JWT Signature.")
        return {"access_token": token, "token_type": "Bearer", "expires_in": 3599}

    def impersonate(self, target: str, auth: str | None) -> dict[str, Any]:
        self.wire.count("iamcredentials.generateAccessToken")
        source = self.wire.accounts.who(auth)
        if source is None:
            raise HttpError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if not self.wire.accounts.may_impersonate(source, target):
            raise HttpError(
                403, "PERMISSION_DENIED", "Permission 'iam.serviceAccounts.getAccessToken' denied"
            )
        expiry = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"accessToken": self.wire.accounts.issue(target), "expireTime": expiry}

    def route(self, method: str, path: str, query: Query, body: bytes, auth: str | None) -> dict[str, Any]:
        if method == "POST":
            if path == "/token":
                return self.token(body)
            if m := _IMPERSONATE.match(path):
                return self.impersonate(m[1], auth)
        else:
            for pattern, call in (
                (_AGGREGATED, self.aggregated),
                (_GLOBAL, self.global_list),
                (_PROJECT, self.project),
                (_SQL, self.sql),
            ):
                if m := pattern.match(path):
                    return call(m, query, auth)
        raise HttpError(404, "NOT_FOUND", f"no such API path in the emulator: {method} {path}")


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k != "_scope"}


def _next(token: str | None) -> dict[str, str]:
    return {"nextPageToken": token} if token else {}


def make_handler(wire: Wire) -> type[BaseHTTPRequestHandler]:
    api = Api(wire)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

        def _send(self, code: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _handle(self, method: str) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                answer = api.route(
                    method, url.path, parse_qs(url.query), body, self.headers.get("Authorization")
                )
            except HttpError as exc:
                self._send(
                    exc.code, {"error": {"code": exc.code, "message": exc.message, "status": exc.status}}
                )
                return
            self._send(200, answer)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


def serve(wire: Wire) -> tuple[str, Callable[[], None]]:
    """Start the HTTP server on 127.0.0.1; returns its base URL and a stop function."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(wire))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="cloudios-gcp-emulator", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return f"http://127.0.0.1:{server.server_address[1]}", stop

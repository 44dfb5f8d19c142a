"""The data-rights API over HTTPS (TLS 1.3): export and erase a namespace's data.

    GET    /api/v1/namespaces/{ns}/export   200 application/json (schema cloudios.io/export/v1)
    DELETE /api/v1/namespaces/{ns}/data     200 application/json (what was erased)

A bearer token is checked with a TokenReview, then a SubjectAccessReview for the custom verb
`export` or `erase` on `tenantdata.cloudios.io` in that namespace (only the cloudios-owner role holds
them). Every answer carries HSTS; the access log names method, path, status, user and address,
never a token or a body. Errors are JSON: {"status": 4xx, "error": "..."}. Served by
ingest/server.py, next to agent reports.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Protocol

from cloudios.services.data_rights import DataRights, Operation
from cloudios.sinks.endpoint import bearer
from cloudios.sinks.kube import Reviewer, describe

RESOURCE = "tenantdata"
"""The RBAC resource (group cloudios.io) that the `export` and `erase` verbs are granted on."""
_ROUTES: dict[tuple[str, str], Operation] = {("GET", "export"): "export", ("DELETE", "data"): "erase"}
_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<what>[^/]+)$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

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

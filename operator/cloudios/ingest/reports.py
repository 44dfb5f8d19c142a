"""Agent reports: ``POST /v1/reports`` with a cluster token, checked before a byte of body is read.

    401  no, malformed (prefix, length, checksum) or unknown token
    403  revoked or expired token            429  rate limit (Retry-After)
    411  no Content-Length                  413  body or inflated body too large, too many items
    415  not JSON, or an encoding other than gzip
    400  the body breaks the wire contract: {"error": "...", "field": "inventory.pods[3].node"}
    200  {"accepted": true, "duplicate": false|true, "stream": ..., "sequence": ...}

The tenant and the cluster come from the token only; the body has no field for either, and the
strict parser refuses any key it does not know. A (stream, sequence) stored before is answered 200
with ``duplicate: true`` and stored nothing. No HTTP plumbing here (ingest/server.py).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol

from cloudios.ingest.limits import Grants, TokenBuckets
from cloudios.security import cluster_tokens
from cloudios.services.settings import IngestSettings
from cloudios.sinks.endpoint import bearer
from cloudios.sinks.kube import describe
from cloudios.store.agent_reports import Recorded
from cloudios.store.cluster_tokens import TokenGrant
from cloudios_agent import wire

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
SLOT_WAIT_SECONDS = 30.0
JSON_TYPES = frozenset({"application/json"})


class Headers(Protocol):
    """Request headers, case-insensitive (http.server's message)."""

    def get(self, name: str, /) -> str | None: ...


class ReportStore(Protocol):
    """What ingest needs of the store (SqlRepository implements it)."""

    def find_cluster_token(self, sha256: str) -> TokenGrant | None: ...

    def record_report(
        self, *, tenant: str, cluster: str, report: wire.Report, received_at: datetime
    ) -> Recorded: ...


@dataclass(frozen=True)
class Answer:
    """One response: status, JSON body, extra headers; ``cluster`` for the access log."""

    status: HTTPStatus
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    cluster: str = ""
    body_read: bool = False
    """Whether the request body was consumed (else the connection must close)."""


class RefusedError(Exception):
    """An answer other than 200."""

    def __init__(
        self, status: HTTPStatus, error: str, *, field: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.retry_after = status, error, field, retry_after

    def answer(self, cluster: str, *, body_read: bool) -> Answer:
        body: dict[str, Any] = {"status": self.status.value, "error": self.error}
        headers: dict[str, str] = {}
        if self.field is not None:
            body["field"] = self.field
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        if self.status is HTTPStatus.UNAUTHORIZED:
            headers["WWW-Authenticate"] = 'Bearer realm="cloudios-ingest"'
        return Answer(self.status, body, headers, cluster, body_read)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ReportsApi:
    """Authenticates, limits, reads, parses and stores one report per call."""

    def __init__(
        self,
        store: ReportStore,
        settings: IngestSettings,
        *,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        observe: Callable[[int], None] | None = None,
    ) -> None:
        """``observe``: told each answer's HTTP status (the operator's metrics count them)."""
        self.store, self.settings, self.clock = store, settings, clock
        self.observe = observe
        self.grants = Grants(store.find_cluster_token, settings.token_cache_seconds, clock=monotonic)
        self.tokens = TokenBuckets(settings.rate_per_second, settings.burst, clock=monotonic)
        self.failures = TokenBuckets(
            settings.failures_per_minute / 60, settings.failures_per_minute, clock=monotonic
        )
        self.slots = threading.BoundedSemaphore(settings.max_concurrent_reports)

    def handle(self, headers: Headers, read: Callable[[int], bytes], source: str) -> Answer:
        """One POST /v1/reports: ``headers`` case-insensitive (an http.client message), ``read(n)``
        reads the body, ``source`` is the client's address."""
        answer = self._handle(headers, read, source)
        if self.observe is not None:
            self.observe(int(answer.status))
        return answer

    def _handle(self, headers: Headers, read: Callable[[int], bytes], source: str) -> Answer:
        grant: TokenGrant | None = None
        try:
            grant, digest = self._authenticate(headers.get("Authorization"), source)
            length = self._admit(digest, headers)
        except RefusedError as refused:
            return refused.answer(_name(grant), body_read=False)
        if not self.slots.acquire(timeout=SLOT_WAIT_SECONDS):
            busy = RefusedError(HTTPStatus.SERVICE_UNAVAILABLE, "ingest is busy; retry later", retry_after=5)
            return busy.answer(_name(grant), body_read=False)
        try:
            return self._store(grant, headers, read, length)
        finally:
            self.slots.release()

    def _authenticate(self, header: str | None, source: str) -> tuple[TokenGrant, str]:
        wait = self.failures.wait(source)
        if wait:
            raise RefusedError(
                HTTPStatus.TOO_MANY_REQUESTS, "too many refused tokens from this address", retry_after=wait
            )
        token = bearer(header)
        if token is None or not cluster_tokens.well_formed(token):
            self.failures.take(source)
            raise RefusedError(
                HTTPStatus.UNAUTHORIZED,
                "a cluster token is required (Authorization: Bearer cld_agt_...); it is malformed or missing",
            )
        digest = cluster_tokens.digest(token)
        grant = self.grants.get(digest)
        if grant is None:
            self.failures.take(source)
            raise RefusedError(HTTPStatus.UNAUTHORIZED, "the cluster token is not known")
        refused = grant.refused_at(self.clock())
        if refused is not None:
            self.failures.take(source)
            raise RefusedError(
                HTTPStatus.FORBIDDEN,
                f"the cluster token is {refused}: give the agent the token in its CloudAccount's Secret",
            )
        return grant, digest

    def _admit(self, digest: str, headers: Headers) -> int:
        wait = self.tokens.take(digest)
        if wait:
            raise RefusedError(
                HTTPStatus.TOO_MANY_REQUESTS, "too many reports with this token", retry_after=wait
            )
        if headers.get("Transfer-Encoding"):
            raise RefusedError(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length, not chunked")
        raw = headers.get("Content-Length")
        if raw is None:
            raise RefusedError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        digits = raw.strip()
        if not digits.isdigit() or not digits.isascii():
            raise RefusedError(HTTPStatus.BAD_REQUEST, "Content-Length must be a number of bytes")
        # A huge number is refused by its length: int() of thousands of digits would raise.
        length = int(digits) if len(digits) <= len(str(wire.MAX_BODY_BYTES)) else wire.MAX_BODY_BYTES + 1
        if length > wire.MAX_BODY_BYTES:
            raise RefusedError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {wire.MAX_BODY_BYTES} bytes"
            )
        kind = (headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if kind not in JSON_TYPES:
            raise RefusedError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")
        return length

    def _store(
        self, grant: TokenGrant, headers: Headers, read: Callable[[int], bytes], length: int
    ) -> Answer:
        name = _name(grant)
        try:
            body = self._read(read, length)
        except RefusedError as refused:
            return refused.answer(name, body_read=False)
        try:
            data = wire.read_body(
                body,
                encoding=headers.get("Content-Encoding"),
                max_bytes=wire.MAX_INFLATED_BYTES,
                max_depth=wire.MAX_DEPTH,
            )
            report = wire.parse_report(data)
        except wire.WireError as exc:
            status = HTTPStatus(exc.status)
            return RefusedError(status, str(exc), field=exc.path).answer(name, body_read=True)
        try:
            recorded = self.store.record_report(
                tenant=grant.tenant, cluster=grant.cluster, report=report, received_at=self.clock()
            )
        except Exception as exc:  # noqa: BLE001 - the store down: the agent keeps the batch and retries
            log.error("storing a report of %s failed: %s", name, describe(exc))  # noqa: TRY400
            unavailable = RefusedError(
                HTTPStatus.SERVICE_UNAVAILABLE, "the store is unavailable; retry", retry_after=10
            )
            return unavailable.answer(name, body_read=True)
        reply = {
            "accepted": True,
            "duplicate": recorded.duplicate,
            "stream": report.stream,
            "sequence": report.sequence,
            "usageRows": recorded.usage_rows,
            "inventory": recorded.inventory,
        }
        return Answer(HTTPStatus.OK, reply, cluster=name, body_read=True)

    def _read(self, read: Callable[[int], bytes], length: int) -> bytes:
        deadline = time.monotonic() + self.settings.body_timeout_seconds
        chunks: list[bytes] = []
        left = length
        while left:
            if time.monotonic() > deadline:
                raise RefusedError(HTTPStatus.REQUEST_TIMEOUT, "the body took too long to arrive")
            try:
                chunk = read(min(READ_CHUNK, left))
            except OSError:
                raise RefusedError(HTTPStatus.REQUEST_TIMEOUT, "the body stopped arriving") from None
            if not chunk:
                raise RefusedError(HTTPStatus.BAD_REQUEST, "the body is shorter than its Content-Length")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def _name(grant: TokenGrant | None) -> str:
    return "" if grant is None else f"{grant.tenant}/{grant.cluster}"

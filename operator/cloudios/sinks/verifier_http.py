"""The verifier's HTTPS transport: the webhook SSRF guard, a pinned address, capped bodies both ways.

Like webhook delivery (sinks.webhooks): the endpoint must pass ``urls.webhook_url_problem``; its name
is resolved once per request and every address checked (DNS rebinding), the connection goes to the
checked address with the name kept for SNI and the certificate, TLS 1.3 only, no proxies from the
environment, no redirects. The request body is refused above ``max_request_bytes``; the response is
read as a stream and abandoned past ``max_response_bytes``. Errors never carry the key or a body.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

from cloudios.security import tls, urls
from cloudios.security.redaction import redact
from cloudios.sinks.webhooks import Resolver, system_resolver

USER_AGENT = "cloudios-verifier/1"


@dataclass(frozen=True)
class Reply:
    """One request's outcome: ``body`` on HTTP 2xx; else ``error`` (``refused``: never connected)."""

    body: bytes | None = None
    status: int | None = None
    error: str = ""
    refused: bool = False


class VerifierClient:
    """Posts one question per call; safe to share between threads."""

    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        ca_file: str | Path | None = None,
        max_request_bytes: int = 16384,
        max_response_bytes: int = 65536,
    ) -> None:
        self._resolver = resolver
        self.max_request_bytes = max_request_bytes
        self.max_response_bytes = max_response_bytes
        self._client = httpx.Client(
            verify=tls.client_context(ca_file),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        allow_private: bool,
        timeout_seconds: float,
    ) -> Reply:
        if len(body) > self.max_request_bytes:
            return Reply(
                error=f"the question is {len(body)} bytes, over {self.max_request_bytes}", refused=True
            )
        problem = urls.webhook_url_problem(url, allow_private=allow_private)
        if problem is not None:
            return Reply(error=f"refused: {problem}", refused=True)
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or 443
        literal = urls.ip_literal(host)
        try:
            addresses = [str(literal)] if literal is not None else list(self._resolver(host, port))
        except OSError as exc:
            return Reply(error=f"cannot resolve {host}: {exc.strerror or type(exc).__name__}")
        if not addresses:
            return Reply(error=f"{host} resolves to no address")
        for address in addresses:
            problem = urls.address_problem(address, allow_private=allow_private)
            if problem is not None:
                return Reply(error=f"refused: {host} resolves to {problem}", refused=True)
        ip = ipaddress.ip_address(addresses[0])
        netloc = f"[{ip}]:{port}" if isinstance(ip, ipaddress.IPv6Address) else f"{ip}:{port}"
        target = urlunsplit(("https", netloc, parts.path or "/", parts.query, ""))
        request = self._client.build_request(
            "POST",
            target,
            content=body,
            headers={
                **headers,
                "host": host if parts.port in (None, 443) else f"{host}:{port}",
                "accept-encoding": "identity",
            },
            extensions={"sni_hostname": host},
            timeout=httpx.Timeout(timeout_seconds),
        )
        return self._send(request)

    def _send(self, request: httpx.Request) -> Reply:
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            return Reply(error=redact(f"{type(exc).__name__}: {exc}")[:300])
        try:
            status = response.status_code
            if not 200 <= status < 300:  # noqa: PLR2004 - HTTP's success class
                what = "redirects are not followed" if 300 <= status < 400 else "not answered"  # noqa: PLR2004
                return Reply(status=status, error=f"HTTP {status}: {what}")
            coding = response.headers.get("content-encoding", "identity").strip().lower()
            if coding not in {"", "identity"}:  # asked for identity: a compressed answer may be a bomb
                return Reply(
                    status=status, error=f"the answer is {coding[:20]}-encoded; only identity is read"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_raw():
                size += len(chunk)
                if size > self.max_response_bytes:
                    return Reply(status=status, error=f"the answer is over {self.max_response_bytes} bytes")
                chunks.append(chunk)
            return Reply(body=b"".join(chunks), status=status)
        except httpx.HTTPError as exc:
            return Reply(error=redact(f"{type(exc).__name__}: {exc}")[:300])
        finally:
            response.close()

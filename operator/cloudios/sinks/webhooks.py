"""Webhook HTTP delivery: resolve, refuse what the SSRF guard refuses, connect to that checked address.

The host name is resolved once per attempt, every address is checked (one bad answer refuses the
attempt: a rebinding resolver cannot slip a private address in beside a public one), and the
connection goes to the checked address itself, with the name kept for SNI, certificate checks and
the Host header, so nothing resolves it again between the check and the connect. TLS 1.3 minimum,
no proxies from the environment, redirects never followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from cloudios.security import tls, urls
from cloudios.security.redaction import redact

Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) -> the addresses it resolves to; tests pass their own."""
USER_AGENT = "cloudios-webhooks/1"


def system_resolver(host: str, port: int) -> list[str]:
    """getaddrinfo's addresses for ``host``, without duplicates, in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Attempt:
    """One attempt's outcome. ``refused``: the SSRF guard stopped it before any connection."""

    ok: bool
    status: int | None = None
    error: str = ""
    refused: bool = False


class WebhookSender:
    """Sends one signed body to one URL per call; safe to share between threads."""

    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        ca_file: str | Path | None = None,
        timeout_seconds: float = 10.0,
    ) -> None:
        self._resolver = resolver
        self._client = httpx.Client(
            verify=tls.client_context(ca_file),
            follow_redirects=False,
            trust_env=False,  # a proxy would connect to the name, not the checked address
            timeout=httpx.Timeout(timeout_seconds),
            headers={"user-agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def send(self, url: str, body: bytes, headers: Mapping[str, str], *, allow_private: bool) -> Attempt:
        problem = urls.webhook_url_problem(url, allow_private=allow_private)
        if problem is not None:
            return Attempt(ok=False, error=f"refused: {problem}", refused=True)
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or 443
        literal = urls.ip_literal(host)
        try:
            addresses = [str(literal)] if literal is not None else list(self._resolver(host, port))
        except OSError as exc:
            return Attempt(ok=False, error=f"cannot resolve {host}: {exc.strerror or type(exc).__name__}")
        if not addresses:
            return Attempt(ok=False, error=f"{host} resolves to no address")
        for address in addresses:
            problem = urls.address_problem(address, allow_private=allow_private)
            if problem is not None:
                return Attempt(ok=False, error=f"refused: {host} resolves to {problem}", refused=True)
        return self._post(parts, addresses[0], body, headers)

    def _post(self, parts: SplitResult, address: str, body: bytes, headers: Mapping[str, str]) -> Attempt:
        host = (parts.hostname or "").rstrip(".")
        port = parts.port or 443
        ip = ipaddress.ip_address(address)
        netloc = f"[{ip}]:{port}" if isinstance(ip, ipaddress.IPv6Address) else f"{ip}:{port}"
        target = urlunsplit(("https", netloc, parts.path or "/", parts.query, ""))
        host_header = host if parts.port in (None, 443) else f"{host}:{port}"
        request = self._client.build_request(
            "POST",
            target,
            content=body,
            headers={**headers, "host": host_header, "content-type": "application/json"},
            extensions={"sni_hostname": host},
        )
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            return Attempt(ok=False, error=redact(f"{type(exc).__name__}: {exc}")[:500])
        response.close()  # the body is never read: receivers answer with a status
        status = response.status_code
        if 200 <= status < 300:  # noqa: PLR2004 - HTTP's success class
            return Attempt(ok=True, status=status)
        if 300 <= status < 400:  # noqa: PLR2004
            return Attempt(ok=False, status=status, error=f"HTTP {status}: redirects are not followed")
        return Attempt(ok=False, status=status, error=f"HTTP {status}")

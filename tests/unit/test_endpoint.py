"""The operator's HTTPS endpoint on real TLS sockets: TLS 1.3 only, /metrics authorized, /healthz beats.

The API server's TokenReview and SubjectAccessReview are answered here by a stand-in (`Reviews`
below, named as such); tests/e2e/test_metrics_endpoint.py runs the same endpoint against the real
API server's reviews.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from cloudios.security import tls
from cloudios.sinks.endpoint import Authorizer, Endpoint, Heartbeat, serve
from cloudios.sinks.kube import Reviewer

READER, STRANGER = "reader-token", "stranger-token"


@dataclass
class StandInReviews:
    """Stand-in for the API server's TokenReview/SubjectAccessReview (the e2e test uses the real ones)."""

    calls: list[str] = field(default_factory=list)
    down: bool = False

    def review_token(self, token: str) -> Reviewer | None:
        self.calls.append(token)
        if self.down:
            raise ConnectionError("api server down")
        users = {READER: "system:serviceaccount:monitoring:prometheus", STRANGER: "mallory"}
        name = users.get(token)
        return None if name is None else Reviewer(name, ("system:authenticated",), "uid", {})

    def may_get_path(self, who: Reviewer, path: str, verb: str = "get") -> bool:
        return who.username.startswith("system:serviceaccount:monitoring:") and (path, verb) == (
            "/metrics",
            "get",
        )


@pytest.fixture
def certs(tmp_path: Path) -> tls.CertificateFiles:
    return tls.generate_certificate(tmp_path / "tls", ["127.0.0.1", "localhost"])


@pytest.fixture
def running(certs: tls.CertificateFiles) -> Iterator[tuple[Endpoint, StandInReviews, Heartbeat]]:
    reviews, heartbeat = StandInReviews(), Heartbeat(stale_after=0.5)
    endpoint = serve(
        addr="127.0.0.1",
        port=0,
        cert_file=certs.cert_file,
        key_file=certs.key_file,
        exposition=lambda: b"# HELP cloudios_up 1\ncloudios_up 1\n",
        authorize=Authorizer(reviews),
        heartbeat=heartbeat,
    )
    try:
        yield endpoint, reviews, heartbeat
    finally:
        endpoint.stop()


def client(certs: tls.CertificateFiles) -> httpx.Client:
    return httpx.Client(verify=tls.client_context(certs.ca_file), timeout=5)


def test_metrics_need_a_token_that_may_get_metrics(
    running: tuple[Endpoint, StandInReviews, Heartbeat], certs: tls.CertificateFiles
) -> None:
    endpoint, reviews, _ = running
    url = f"https://127.0.0.1:{endpoint.port}/metrics"
    with client(certs) as http:
        anonymous = http.get(url)
        assert anonymous.status_code == 401
        assert "cloudios_up" not in anonymous.text
        assert http.get(url, headers={"Authorization": "Bearer nobody-knows"}).status_code == 401
        assert http.get(url, headers={"Authorization": f"Bearer {STRANGER}"}).status_code == 403
        ok = http.get(url, headers={"Authorization": f"Bearer {READER}"})
        assert ok.status_code == 200
        assert "cloudios_up 1" in ok.text
        assert ok.headers["strict-transport-security"].startswith("max-age=63072000")
        # Answers are cached per token: a scrape every 30 s does not review the token every time.
        http.get(url, headers={"Authorization": f"Bearer {READER}"})
    assert reviews.calls.count(READER) == 1


def test_reviews_unavailable_refuse_rather_than_serve(
    running: tuple[Endpoint, StandInReviews, Heartbeat], certs: tls.CertificateFiles
) -> None:
    endpoint, reviews, _ = running
    reviews.down = True
    with client(certs) as http:
        answer = http.get(f"https://127.0.0.1:{endpoint.port}/metrics", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 503
    assert "cloudios_up" not in answer.text


def test_healthz_follows_the_heartbeat_and_shows_nothing(
    running: tuple[Endpoint, StandInReviews, Heartbeat], certs: tls.CertificateFiles
) -> None:
    endpoint, _, heartbeat = running
    with client(certs) as http:
        heartbeat.beat()
        live = http.get(f"https://127.0.0.1:{endpoint.port}/healthz")
        assert (live.status_code, live.text) == (200, "ok\n")
        time.sleep(0.6)
        assert http.get(f"https://127.0.0.1:{endpoint.port}/healthz").status_code == 503
        assert http.get(f"https://127.0.0.1:{endpoint.port}/readyz").status_code == 200


def handshake(port: int, version: ssl.TLSVersion, ca: Path) -> str:
    context = ssl.create_default_context(cafile=str(ca))
    context.minimum_version = context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as wrapped,
    ):
        return str(wrapped.version())


def test_tls_12_is_refused_and_13_accepted(
    running: tuple[Endpoint, StandInReviews, Heartbeat], certs: tls.CertificateFiles
) -> None:
    endpoint, _, _ = running
    with pytest.raises(ssl.SSLError):
        handshake(endpoint.port, ssl.TLSVersion.TLSv1_2, certs.ca_file)
    assert handshake(endpoint.port, ssl.TLSVersion.TLSv1_3, certs.ca_file) == "TLSv1.3"
    # The refused client did not take the endpoint down.
    with client(certs) as http:
        assert http.get(f"https://127.0.0.1:{endpoint.port}/readyz").status_code == 200


def test_plain_http_gets_no_metrics(running: tuple[Endpoint, StandInReviews, Heartbeat]) -> None:
    endpoint, _, _ = running
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{endpoint.port}/metrics", timeout=3)


def test_the_access_log_has_method_path_status_latency_never_a_token(
    running: tuple[Endpoint, StandInReviews, Heartbeat],
    certs: tls.CertificateFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint, _, heartbeat = running
    heartbeat.beat()
    base = f"https://127.0.0.1:{endpoint.port}"
    with caplog.at_level(logging.DEBUG, logger="cloudios.access"), client(certs) as http:
        http.get(f"{base}/metrics?token={READER}", headers={"Authorization": f"Bearer {READER}"})
        http.get(f"{base}/metrics", headers={"Authorization": f"Bearer {STRANGER}"})
        http.get(f"{base}/healthz")
    lines = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "cloudios.access"]
    assert [line.split(" source=")[0] for _, line in lines] == [
        "GET /metrics 200",
        "GET /metrics 403",
        "GET /healthz 200",
    ]
    assert all(" source=127.0.0.1 latency_ms=" in line for _, line in lines)
    assert [level for level, _ in lines] == [logging.INFO, logging.INFO, logging.DEBUG]  # probes quietly
    text = "\n".join(line for _, line in lines)
    assert READER not in text
    assert STRANGER not in text

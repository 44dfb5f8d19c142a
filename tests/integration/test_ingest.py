"""Agent ingest on real TLS sockets with the real PostgreSQL store (row-level security): the cluster
comes from the token, bad tokens and hostile bodies are refused before anything is stored, replays
are stored once, the rate limit answers 429, and the access log holds no token and no body."""

from __future__ import annotations

import gzip
import json
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from cloudios.ingest import server
from cloudios.ingest.reports import ReportsApi
from cloudios.security import cluster_tokens, keyset, tls
from cloudios.services.settings import IngestSettings
from cloudios.sinks.endpoint import HSTS, Endpoint
from cloudios.store import SqlRepository, schema
from cloudios_agent import wire
from tests.support import agent_payloads as sample
from tests.support.agent_payloads import T0
from tests.support.pg_store import tenant_database
from tests.support.postgres import Postgres

pytestmark = pytest.mark.postgres
OVERLAP = timedelta(hours=24)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Ingest:
    url: str
    certs: tls.CertificateFiles
    store: SqlRepository
    clock: Clock
    endpoint: Endpoint
    tokens: dict[str, str] = field(default_factory=dict)

    def post(
        self, token: str | None, content: bytes, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        sent = {"Content-Type": "application/json", "Content-Encoding": "gzip", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        with httpx.Client(verify=tls.client_context(self.certs.ca_file), timeout=30) as client:
            return client.post(f"{self.url}{wire.PATH}", content=content, headers=sent)

    def mint(self, tenant: str, cluster: str, *, account: str = "prod", rotation: str = "") -> str:
        live = self.store.cluster_token(tenant, account)
        token = cluster_tokens.mint()
        self.store.add_cluster_token(
            tenant=tenant, account_name=account, cluster=cluster, token=token, rotation=rotation,
            replaces=live.id if live else None, now=self.clock(), overlap=OVERLAP,
        )  # fmt: skip
        return token

    def batches(self, tenant: str) -> int:
        with self.store.tenant_transaction(tenant) as conn:
            return int(conn.scalar(sa.select(sa.func.count()).select_from(schema.agent_batches)) or 0)


def start(store: SqlRepository, tmp_path: Path, **settings: Any) -> Ingest:
    certs = tls.generate_certificate(tmp_path / "tls", ["127.0.0.1"])
    clock = Clock()
    api = ReportsApi(store, IngestSettings(token_cache_seconds=0, **settings), clock=clock)
    endpoint = server.serve(
        addr="127.0.0.1", port=0, cert_file=certs.cert_file, key_file=certs.key_file, reports=api
    )
    return Ingest(f"https://127.0.0.1:{endpoint.port}", certs, store, clock, endpoint)


@pytest.fixture
def store(postgres: Postgres) -> Iterator[SqlRepository]:
    repo = tenant_database(postgres).repository(keyset=keyset.generate())
    yield repo
    repo.close()


@pytest.fixture
def ingest(store: SqlRepository, tmp_path: Path) -> Iterator[Ingest]:
    running = start(store, tmp_path)
    yield running
    running.endpoint.stop()


def test_tls_12_is_refused(ingest: Ingest) -> None:
    context = ssl.create_default_context(cafile=str(ingest.certs.ca_file))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    port = ingest.endpoint.port
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, pytest.raises(ssl.SSLError):
        context.wrap_socket(raw, server_hostname="127.0.0.1")
    assert ingest.post(None, b"{}").status_code == 401  # still serving


def test_a_token_stores_under_its_own_tenant_and_cluster_only(ingest: Ingest) -> None:
    a = ingest.mint("team-a", "cluster-a")
    ingest.mint("team-b", "cluster-b")
    rep = sample.report(1, inventory=sample.inventory(), usage=(sample.usage(),))
    answer = ingest.post(a, sample.body(rep))
    assert answer.status_code == 200, answer.text
    expected = {"accepted": True, "duplicate": False, "stream": "ab12", "sequence": 1}
    assert answer.json() == {**expected, "usageRows": 1, "inventory": True}
    assert answer.headers["strict-transport-security"] == HSTS
    assert ingest.store.cluster_state("team-a", "cluster-a") is not None
    assert ingest.store.cluster_state("team-b", "cluster-b") is None
    assert ingest.batches("team-b") == 0
    # A body that tries to name another cluster or tenant is refused by the strict parser.
    for key in ("cluster", "tenant"):
        hostile = json.loads(wire.encode_report(sample.report(2)))
        hostile[key] = "cluster-b"
        refused = ingest.post(a, gzip.compress(json.dumps(hostile).encode()))
        assert refused.status_code == 400
        assert refused.json()["field"] == key
    assert ingest.batches("team-a") == 1
    assert ingest.batches("team-b") == 0


def test_unknown_malformed_revoked_and_expired_tokens_are_refused(ingest: Ingest) -> None:
    body = sample.body(sample.report(1))
    token = ingest.mint("team-a", "c1")
    typo = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    assert ingest.post(None, body).status_code == 401
    assert ingest.post(typo, body).status_code == 401
    assert ingest.post(cluster_tokens.mint(), body).status_code == 401  # well formed, unknown
    refused = ingest.post("Basic-or-anything", body)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")
    ingest.store.revoke_cluster_tokens("team-a", "prod", now=T0)
    revoked = ingest.post(token, body)
    assert revoked.status_code == 403
    assert "revoked" in revoked.json()["error"]
    assert ingest.batches("team-a") == 0


def test_a_rotated_token_works_during_the_overlap_only(ingest: Ingest) -> None:
    old = ingest.mint("team-a", "c1")
    ingest.clock.now = T0 + timedelta(hours=1)
    new = ingest.mint("team-a", "c1", rotation="r1")
    ingest.clock.now = T0 + timedelta(hours=24)
    assert ingest.post(old, sample.body(sample.report(1))).status_code == 200
    assert ingest.post(new, sample.body(sample.report(2))).status_code == 200
    ingest.clock.now = T0 + timedelta(hours=25, seconds=1)
    expired = ingest.post(old, sample.body(sample.report(3)))
    assert expired.status_code == 403
    assert "expired" in expired.json()["error"]
    assert ingest.post(new, sample.body(sample.report(4))).status_code == 200
    assert ingest.batches("team-a") == 3


def test_a_replayed_batch_is_answered_and_stored_once(ingest: Ingest) -> None:
    token = ingest.mint("team-a", "c1")
    body = sample.body(sample.report(7, inventory=sample.inventory(), usage=(sample.usage(),)))
    assert ingest.post(token, body).json()["duplicate"] is False
    replay = ingest.post(token, body)
    assert replay.status_code == 200
    assert replay.json()["duplicate"] is True
    assert ingest.batches("team-a") == 1
    assert len(ingest.store.container_usage("team-a", "c1", since=T0 - timedelta(days=1))) == 1


def _deep(depth: int) -> bytes:
    return gzip.compress(b'{"version":1,"x":' + b"[" * depth + b"]" * depth + b"}")


def test_hostile_bodies_are_refused_with_4xx_and_store_nothing(ingest: Ingest) -> None:
    token = ingest.mint("team-a", "c1")
    bomb = gzip.compress(b" " * (wire.MAX_INFLATED_BYTES + 1), compresslevel=9)  # ~65 KiB on the wire
    unknown = json.loads(wire.encode_report(sample.report(1)))
    unknown["inventory"] = {"takenAt": "2026-11-30T12:00:00Z", "secrets": [{"name": "db"}]}
    cases = {
        "gzip bomb": (bomb, {}, 413),
        "deep nesting": (_deep(10_000), {}, 400),
        "nesting past the limit": (_deep(wire.MAX_DEPTH + 1), {}, 400),
        "unknown field": (gzip.compress(json.dumps(unknown).encode()), {}, 400),
        "not gzip": (b"\x1f\x8b garbage", {}, 400),
        "huge integer": (gzip.compress(b'{"version":1' + b"0" * 100_000 + b"}"), {}, 400),
        "other encoding": (b"{}", {"Content-Encoding": "br"}, 415),
        "not JSON": (b"{}", {"Content-Type": "text/plain"}, 415),
    }
    for name, (content, headers, status) in cases.items():
        answer = ingest.post(token, content, headers=headers)
        assert answer.status_code == status, (name, answer.text)
        assert answer.headers["strict-transport-security"] == HSTS
        assert answer.json()["status"] == status
    assert ingest.post(token, sample.body(sample.report(1))).json()["duplicate"] is False  # still serving
    assert ingest.batches("team-a") == 1
    assert (
        ingest.post(token, gzip.compress(json.dumps(unknown).encode())).json()["field"] == "inventory.secrets"
    )


def raw_request(ingest: Ingest, head: str) -> str:
    """Send only a request head (no body) and read the answer's status line and headers."""
    context = tls.client_context(ingest.certs.ca_file)
    with (
        socket.create_connection(("127.0.0.1", ingest.endpoint.port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
    ):
        conn.sendall(head.encode())
        return conn.recv(65536).decode(errors="replace")


def test_oversize_and_unsized_bodies_are_refused_before_reading(ingest: Ingest) -> None:
    token = ingest.mint("team-a", "c1")
    head = f"POST {wire.PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
    head += "Content-Type: application/json\r\n"
    # The server answers 413 with no body sent at all: it never waits for the 16 MiB + 1.
    answer = raw_request(ingest, head + f"Content-Length: {wire.MAX_BODY_BYTES + 1}\r\n\r\n")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "Connection: close" in answer
    assert raw_request(ingest, head + "\r\n").startswith("HTTP/1.1 411")
    assert raw_request(ingest, head + f"Content-Length: {'9' * 5000}\r\n\r\n").startswith("HTTP/1.1 413")
    assert raw_request(ingest, head + "Content-Length: ١٢\r\n\r\n").startswith("HTTP/1.1 400")
    assert raw_request(ingest, head + "Transfer-Encoding: chunked\r\n\r\n").startswith("HTTP/1.1 411")
    assert ingest.batches("team-a") == 0


def test_the_rate_limit_answers_429_with_retry_after(store: SqlRepository, tmp_path: Path) -> None:
    running = start(store, tmp_path, burst=3, rate_per_second=0.1, failures_per_minute=2)
    try:
        token = running.mint("team-a", "c1")
        answers = [running.post(token, sample.body(sample.report(n))) for n in range(1, 6)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert 1 <= int(answers[3].headers["retry-after"]) <= 10
        assert running.batches("team-a") == 3
        # Another cluster's token has its own bucket; refused tokens from one address are limited too.
        assert running.post(running.mint("team-b", "c2"), sample.body(sample.report(1))).status_code == 200
        bad = [running.post(cluster_tokens.mint(), b"{}").status_code for _ in range(4)]
        assert bad == [401, 401, 429, 429]
    finally:
        running.endpoint.stop()


def test_the_access_log_names_the_cluster_never_the_token_or_the_body(
    ingest: Ingest, caplog: pytest.LogCaptureFixture
) -> None:
    token = ingest.mint("team-a", "c1")
    canary = "canary-7f3a9c-pod"
    inv = sample.inventory()
    pod = inv.pods[0].__class__(**{**inv.pods[0].__dict__, "name": canary})
    rep = sample.report(1, inventory=inv.__class__(**{**inv.__dict__, "pods": (pod,)}))
    with caplog.at_level(logging.DEBUG):
        assert ingest.post(token, sample.body(rep)).status_code == 200
        assert ingest.post(token[:-1] + "x", sample.body(rep)).status_code == 401
        assert ingest.post(token, _deep(50)).status_code == 400
    lines = [r.getMessage() for r in caplog.records]
    access = [r.getMessage() for r in caplog.records if r.name == server.access_log.name]
    assert len(access) == 3
    assert access[0].startswith(f"POST {wire.PATH} 200 cluster=team-a/c1 source=127.0.0.1 latency_ms=")
    assert access[1].startswith(f"POST {wire.PATH} 401 source=127.0.0.1")
    text = "\n".join(lines)
    assert token not in text
    assert token[len(cluster_tokens.PREFIX) : -8] not in text
    assert canary not in text
    assert ingest.store.cluster_state("team-a", "c1") is not None

"""moto server fixtures: one server per session, clean state per test, accounts via AssumeRole.

moto keeps one set of backends per account id and takes an assumed role's account from the role
ARN, so ``AwsEnv.session(account_id)`` (AssumeRole into that account, then a fresh session) sees
only that account's resources: the basis of the tenant-isolation tests.

The base credentials are dummies in the environment, only for botocore's standard chain in
tests; the scanner itself never writes credentials anywhere.
"""

from __future__ import annotations

import http.client
import http.server
import re
import threading
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from typing import Any

import boto3.session
import pytest

from cloudios.api.cloudaccount import AwsAccount, CloudAccountSpec
from cloudios.domain import Metric, Provider
from cloudios.emulators.aws.server import start_moto_server
from cloudios.modules.base import MetricNeed
from cloudios.providers.aws.credentials import AwsBaseCredentials
from cloudios.providers.base import CollectRequest

ACCOUNT_A = "111111111111"
ACCOUNT_B = "222222222222"
EXTERNAL_ID = "cloudios-test-external-id"
BASE_KEY_ID = "AKIATESTBASEKEY00001"
BASE_SECRET = "test/base/secret/0123456789abcdefghijklmn"


def role_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/cloudios-readonly"


@dataclass(frozen=True)
class AwsEnv:
    """A clean moto server reachable through AWS_ENDPOINT_URL, plus account helpers."""

    url: str

    def session(self, account_id: str, region: str = "us-east-1") -> boto3.session.Session:
        """A session inside ``account_id`` (AssumeRole from the dummy base credentials)."""
        base = boto3.session.Session(
            aws_access_key_id=BASE_KEY_ID, aws_secret_access_key=BASE_SECRET, region_name=region
        )
        creds = base.client("sts", endpoint_url=self.url).assume_role(
            RoleArn=role_arn(account_id), RoleSessionName="test-seeder", ExternalId=EXTERNAL_ID
        )["Credentials"]
        return boto3.session.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=region,
        )

    def client(self, service: str, account_id: str, region: str = "us-east-1") -> Any:
        return self.session(account_id, region).client(service, endpoint_url=self.url)  # type: ignore[call-overload]

    def clients(self, account_id: str, region: str, *services: str) -> list[Any]:
        """Several clients from one assumed-role session (one AssumeRole, not one per client)."""
        session = self.session(account_id, region)
        return [session.client(s, endpoint_url=self.url) for s in services]  # type: ignore[call-overload]

    @staticmethod
    def request(
        account_id: str,
        *,
        regions: Sequence[str] = ("us-east-1",),
        kinds: Sequence[str] = (),
        metrics: Sequence[tuple[str, Metric]] = (),
        lookback_days: int = 14,
        end: datetime | None = None,
        role_account: str | None = None,
        tenant: str = "team-a",
        name: str = "prod",
        base_credentials: AwsBaseCredentials | None = None,
        max_concurrency: int = 4,
    ) -> CollectRequest:
        """A CollectRequest for ``account_id`` (the role may sit in ``role_account``)."""
        spec = CloudAccountSpec(
            provider=Provider.AWS,
            aws=AwsAccount(
                account_id=account_id,
                role_arn=role_arn(role_account or account_id),
                external_id=EXTERNAL_ID,
                regions=list(regions),
            ),
        )
        return CollectRequest(
            tenant=tenant,
            account_name=name,
            account=spec,
            lookback_days=lookback_days,
            kinds=frozenset(kinds),
            metrics=tuple(MetricNeed(k, m) for k, m in metrics),
            end=end or datetime.now(UTC),
            credentials=base_credentials,
            max_concurrency=max_concurrency,
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A patched moto server on 127.0.0.1 (see cloudios.emulators.aws.server); yields its URL."""
    server = start_moto_server()
    yield server.url
    server.stop()


def reset_moto(url: str) -> None:
    """Drop every resource and metric of every account (moto's reset endpoint)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


@pytest.fixture
def aws_env(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> AwsEnv:
    """Clean emulator state, AWS_ENDPOINT_URL pointing at it, dummy base credentials in env."""
    reset_moto(moto_server)
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", BASE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    return AwsEnv(moto_server)


# --- Faults on the wire -------------------------------------------------------------------------

_THROTTLE_JSON = b'{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}'
_THROTTLE_QUERY = (
    b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
    b"<Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
)
_THROTTLE_EC2 = (
    b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded."
    b"</Message></Error></Errors><RequestID>00000000-0000-0000-0000-000000000000</RequestID></Response>"
)


@dataclass(frozen=True)
class Fault:
    """An HTTP answer the proxy gives instead of forwarding."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def throttle(service: str) -> Fault:
    """The throttling error AWS sends for ``service``'s protocol."""
    if service == "monitoring":  # CloudWatch: AWS JSON 1.0 with query-compatible error codes
        return Fault(
            400,
            (("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-query-error", "Throttling;Sender")),
            _THROTTLE_JSON,
        )
    if service == "ec2":
        return Fault(503, (("Content-Type", "text/xml"),), _THROTTLE_EC2)
    return Fault(400, (("Content-Type", "text/xml"),), _THROTTLE_QUERY)


def query_error(code: str, message: str, status: int = 403, *, ec2: bool = False) -> Fault:
    """A query/EC2-protocol error response with ``code`` and ``message``."""
    if ec2:
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error>"
            "</Errors><RequestID>1</RequestID></Response>"
        )
    else:
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>"
            "</Error><RequestId>1</RequestId></ErrorResponse>"
        )
    return Fault(status, (("Content-Type", "text/xml"),), body.encode())


Rule = Callable[[str, str, bytes, int], "Fault | None"]
"""(service signing name, operation, request body, n-th request of that operation from 1) -> Fault."""


class FaultProxy:
    """A local HTTP proxy between boto3 and moto that answers chosen requests with faults.

    Point ``AWS_ENDPOINT_URL`` at ``proxy.url``. ``seen`` logs (service, operation, status) of
    every request, so tests can check that retries really happened on the wire.
    """

    def __init__(self, upstream: str, rule: Rule) -> None:
        self.upstream = urllib.parse.urlsplit(upstream)
        self.rule = rule
        self.seen: list[tuple[str, str, int]] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                proxy._handle(self)

            def do_GET(self) -> None:
                proxy._handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def count(self, service: str, operation: str, status: int | None = None) -> int:
        with self._lock:
            return sum(1 for s, o, c in self.seen if s == service and o == operation and status in (None, c))

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        service, operation = _identify(handler.headers, body)
        with self._lock:
            self._counts[(service, operation)] += 1
            nth = self._counts[(service, operation)]
        fault = self.rule(service, operation, body, nth)
        if fault is not None:
            status, headers, payload = fault.status, list(fault.headers), fault.body
        else:
            status, headers, payload = self._forward(handler, body)
        with self._lock:
            self.seen.append((service, operation, status))
        handler.send_response(status)
        for key, value in headers:
            if key.lower() not in {"content-length", "connection", "transfer-encoding", "server", "date"}:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _forward(
        self, handler: http.server.BaseHTTPRequestHandler, body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(
            self.upstream.hostname or "127.0.0.1", self.upstream.port, timeout=60
        )
        try:
            headers = {k: v for k, v in handler.headers.items() if k.lower() != "host"}
            headers["Host"] = self.upstream.netloc
            conn.request(handler.command, handler.path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()


def _identify(headers: Message, body: bytes) -> tuple[str, str]:
    """(signing service, operation) of a SigV4-signed request in any of AWS's protocols."""
    match = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", headers.get("Authorization", ""))
    service = match.group(1) if match else "?"
    target = headers.get("X-Amz-Target")
    if target:
        return service, target.rsplit(".", 1)[-1]
    action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
    return service, action


def every(service: str, operation: str, fault: Fault, *, first: int = 0, nth: int = 0) -> Rule:
    """Fault the first ``first`` requests of an operation, and/or every ``nth`` one."""

    def rule(svc: str, op: str, _body: bytes, n: int) -> Fault | None:
        if svc != service or op != operation:
            return None
        if n <= first or (nth and n % nth == 0):
            return fault
        return None

    return rule


def combine(*rules: Rule) -> Rule:
    def rule(svc: str, op: str, body: bytes, n: int) -> Fault | None:
        for r in rules:
            fault = r(svc, op, body, n)
            if fault is not None:
                return fault
        return None

    return rule


# --- What the emulator handed out ---------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCredentials:
    """One AssumeRole answer of the in-process moto server: who asked, with what, and what it got."""

    session_name: str
    external_id: str | None
    access_key_id: str
    secret_access_key: str
    session_token: str


def issued_credentials() -> list[IssuedCredentials]:
    """Every temporary credential moto's STS issued since the last reset, read from moto itself."""
    from moto.sts.models import sts_backends  # noqa: PLC0415 - the server runs in this process

    return [
        IssuedCredentials(
            role.session_name,
            role.external_id,
            role.access_key_id,
            role.secret_access_key,
            role.session_token,
        )
        for regions in sts_backends.values()
        for backend in regions.values()
        for role in backend.assumed_roles
    ]

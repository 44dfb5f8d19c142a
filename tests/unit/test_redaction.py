"""Redaction: secrets never survive redact(), in text, nested payloads or rendered log records."""

from __future__ import annotations

import copy
import logging
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudios.security.prefixes import CLUSTER_TOKEN_PREFIX
from cloudios.security.redaction import MAX_DEPTH, REDACTED, RedactingFilter, redact

# Canaries shaped like the real thing (not real credentials): (where it appears, what must go).
POSITIVES = [
    ("temporary key id ASIAQWERTYUIOPASDFGH used", "ASIAQWERTYUIOPASDFGH"),
    ("long-term key AKIAZXCVBNMASDFGHJKL", "AKIAZXCVBNMASDFGHJKL"),
    # 40-character secret keys in any context, not only after "aws ... secret".
    ("returned 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 to the caller", "OTMW4qcoyFinBe0AWYln0tF"),
    ("<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>", "wJalrXUtnFEMI"),
    ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', "wJalrXUtnFEMI"),
    # STS session tokens: by their header, however long and whatever their letters.
    ("<SessionToken>FQoGZXIvYXdzEBYaDKpeQVLzD3X5Ob3Ga98APbuI2hyoWzjYjy</SessionToken>", "FQoGZXIvYXdzEBYa"),
    ("token FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKENVALUEthatislong", "FwoGZXIvYXdzEJr"),
    ("IQoJb3JpZ2luX2VjEHcaCXVzLWVhc3QtMSJGMEQCIBnNf then", "IQoJb3JpZ2luX2VjEHca"),
    ("x-amz-security-token:Zm9vYmFyYmF6cXV4", "Zm9vYmFyYmF6cXV4"),
    ("{'X-Amz-Security-Token': b'Zm9vYmFyYmF6cXV4'}", "Zm9vYmFyYmF6cXV4"),
    ("https://s3.example/?X-Amz-Security-Token=Zm9vYmFy1&X-Amz-Date=1", "Zm9vYmFy1"),
    (
        (
            "{'Authorization': b'AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/sts/aws4_request, "
            "SignedHeaders=host, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7'}"
        ),
        "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    ),
    ("Authorization: Bearer abcdefghijkl", "abcdefghijkl"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlX2NhbmFyeQ", "eyJzdWIiOiJjYW5hcnkifQ"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEcanary\n-----END RSA PRIVATE KEY-----", "MIIEcanary"),
    ("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEcanary (truncated)", "MHcCAQEEcanary"),
    (f"agent token {CLUSTER_TOKEN_PREFIX}0123456789abcdefghijklmnop", "0123456789abcdefghijklmnop"),
    ("postgresql://cloudios:hunter2secret@db:5432/cloudios", "hunter2secret"),
    ("'ExternalId': 'team-x-ext-7Hq2'", "team-x-ext-7Hq2"),
    ("Action=AssumeRole&ExternalId=team-x-ext-7Hq2&DurationSeconds=900", "team-x-ext-7Hq2"),
    ('password: "correct horse battery"', "correct horse battery"),
    ("approved by jane.doe+finops@example.com", "jane.doe+finops@example.com"),
]

NEGATIVES = [
    "instance i-0abc in us-east-1 is idle: cpu 1.2% over 30 days",
    "arn:aws:iam::123456789012:role/cloudios-readonly assumed as cloudios-team-x-unseen",
    "finding 3f786850e387550fdab836ed7e6dc881de23001b (sha-1 hex ids are not secrets)",
    "Delete EBS snapshot snap-0123456789abcdef0 (100 GB, 400 days old) saving 5.00 USD/month",
    "ScanPolicy/daily: spec.lookbackDays: Input should be a valid integer",
    "CredentialsValid False AssumeRoleDenied: check the role's trust policy and the external ID",
    "2026-01-01T06:00:00+00:00 scan 0f6c1a2e-8b1d-4c2e-9f3a-2b5d6e7f8a9b finished",
]


@pytest.mark.parametrize(("text", "secret"), POSITIVES)
def test_every_pattern_redacts_its_secret(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert REDACTED in out


@pytest.mark.parametrize("text", NEGATIVES)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_secret_keys_are_redacted_recursively_without_mutating_input() -> None:
    payload = {
        "spec": {"aws": {"externalId": "ext", "regions": ["us-east-1"], "suspend": False}},
        "Secret-Access-Key": "s",
        "sessionToken": ("t",),
        "headers": {"X-Amz-Security-Token": "tok", "Authorization": "AWS4-HMAC-SHA256 ..."},
        "kubeconfig": {"users": [{"token": "x"}]},
        "n": 1,
        "empty": {"password": ""},
        "raw": b"key AKIAZXCVBNMASDFGHJKL",
    }
    before = copy.deepcopy(payload)
    out = redact(payload)
    assert out["spec"]["aws"] == {"externalId": REDACTED, "regions": ["us-east-1"], "suspend": False}
    assert out["Secret-Access-Key"] == out["sessionToken"] == out["kubeconfig"] == REDACTED
    assert out["headers"] == {"X-Amz-Security-Token": REDACTED, "Authorization": REDACTED}
    assert out["n"] == 1
    assert out["empty"] == {"password": ""}
    assert out["raw"] == f"key {REDACTED}"
    assert payload == before


def test_depth_is_bounded_and_fails_closed() -> None:
    deep: Any = "AKIAZXCVBNMASDFGHJKL"
    for _ in range(MAX_DEPTH * 4):
        deep = [deep]
    out = redact(deep)
    assert "AKIA" not in repr(out)
    assert REDACTED in repr(out)


# --- Property: random canaries at random depths never reach a rendered log line -----------------

_B64 = string.ascii_letters + string.digits + "+/"
_B64URL = string.ascii_letters + string.digits + "-_"
_SEPARATORS = " \t\n,;()[]{}<>|\"'"


def _mixed(text: str) -> bool:
    return any(c.isupper() for c in text) and any(c.islower() for c in text)


def _with_digit(text: str) -> bool:
    return any(c.isdigit() for c in text)


def _canaries() -> st.SearchStrategy[tuple[str, list[str]]]:
    """(text to plant, parts of it that must not survive)."""
    upper_digits = string.ascii_uppercase + string.digits
    key_id = st.builds(
        lambda p, body: p + body,
        st.sampled_from(["AKIA", "ASIA", "AROA", "AIDA"]),
        st.text(upper_digits, min_size=16, max_size=16),
    )
    secret_key = st.text(_B64, min_size=40, max_size=40).filter(_mixed)
    session_token = st.builds(
        lambda p, body: p + body,
        st.sampled_from(["FwoGZXIvYXdz", "FQoGZXIvYXdz", "IQoJb3JpZ2lu"]),
        st.text(_B64, min_size=20, max_size=300),
    )
    segment = st.text(_B64URL, min_size=8, max_size=60)
    jwt = st.builds(lambda h, p, s: f"eyJ{h}.eyJ{p}.{s}", segment, segment, segment)
    cluster = st.builds(lambda body: CLUSTER_TOKEN_PREFIX + body, st.text(_B64URL, min_size=16, max_size=64))
    word = st.text(string.ascii_letters + string.digits, min_size=10, max_size=24).filter(_with_digit)
    plain = st.one_of(key_id, secret_key, session_token, jwt, cluster).map(lambda s: (s, [s]))
    pem_body = st.lists(st.text(_B64, min_size=16, max_size=64).filter(_with_digit), min_size=1, max_size=4)
    pem = st.builds(
        lambda kind, lines: (
            f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {kind}PRIVATE KEY-----",
            lines,
        ),
        st.sampled_from(["", "RSA ", "EC ", "OPENSSH "]),
        pem_body,
    )
    labelled = st.builds(
        lambda label, sep, value: (f"{label}{sep}{value}", [value]),
        st.sampled_from(
            ["X-Amz-Security-Token", "password", "ExternalId", "aws_session_token", "client_secret"]
        ),
        st.sampled_from(["=", ": ", "': '", '": "', ">"]),
        word,
    )
    url = st.builds(lambda pw: (f"https://svc:{pw}@proxy.internal:3128/", [pw]), word)
    email = st.builds(lambda local, host: (f"{local}@{host}.example.com", [f"{local}@"]), word, word)
    bearer = st.builds(lambda token: (f"Authorization: Bearer {token}", [token]), word)
    return st.one_of(plain, pem, labelled, url, email, bearer)


_keys = st.text(alphabet="abcdefghij", min_size=1, max_size=8)
_filler = st.text(alphabet="abcdefgh ", max_size=12)


@st.composite
def _planted(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """A random JSON-like tree with one to three canaries at random depths."""
    secrets: list[str] = []
    leaves: list[Any] = []
    for _ in range(draw(st.integers(1, 3))):
        text, parts = draw(_canaries())
        secrets.extend(parts)
        before, after = draw(st.sampled_from(_SEPARATORS)), draw(st.sampled_from(_SEPARATORS))
        leaves.append(draw(_filler) + before + text + after + draw(_filler))
    tree: Any = leaves if len(leaves) > 1 else leaves[0]
    for _ in range(draw(st.integers(0, 8))):
        shape = draw(st.sampled_from(["dict", "list", "tuple"]))
        noise = draw(st.one_of(st.integers(), _filler, st.none()))
        if shape == "dict":
            tree = {draw(_keys): tree, draw(_keys) + "_": noise}
        elif shape == "list":
            tree = [noise, tree]
        else:
            tree = (tree, noise)
    return tree, secrets


def _fail(message: str) -> None:
    raise RuntimeError(message)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _render(handler: _Keep) -> str:
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    return "\n".join(formatter.format(record) for record in handler.records)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(planted=_planted())
def test_planted_canaries_never_survive_in_rendered_logs(planted: tuple[Any, list[str]]) -> None:
    tree, secrets = planted
    before = copy.deepcopy(tree)
    logger = logging.getLogger("cloudios.test.property")
    handler = _Keep()
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("payload %s", tree)
        logger.warning("structured %r", redact(tree))
        try:
            _fail(repr(tree))
        except RuntimeError:
            logger.exception("scan failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    rendered = _render(handler)
    assert len(handler.records) == 3
    for secret in secrets:
        assert secret not in rendered
    assert tree == before  # redaction never mutates what it is given


def test_log_records_exceptions_and_stacks_are_redacted() -> None:
    logger = logging.getLogger("cloudios.test.redaction")
    handler = _Keep()
    logger.addHandler(handler)
    try:
        logger.warning("assumed role with key %s", "ASIAQWERTYUIOPASDFGH")
        try:
            _fail("denied for AKIAZXCVBNMASDFGHJKL")
        except RuntimeError:
            logger.exception("scan failed")
        logger.warning("here, holding %s", "AKIAZXCVBNMASDFGHJKL", stack_info=True)
    finally:
        logger.removeHandler(handler)
    rendered = _render(handler)
    assert "ASIAQWERTYUIOPASDFGH" not in rendered
    assert "AKIAZXCVBNMASDFGHJKL" not in rendered
    assert "RuntimeError" in rendered
    assert "Stack (most recent call last)" in rendered


def test_a_record_that_cannot_be_cleaned_is_dropped() -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("no")

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", (Unprintable(),), None)
    assert RedactingFilter().filter(record) is False


def test_service_account_identities_stay_but_personal_emails_go() -> None:
    from cloudios.security.redaction import redact  # noqa: PLC0415

    text = redact("reached as reader@proj-1.iam.gserviceaccount.com; approved by alice@example.com")
    assert "reader@proj-1.iam.gserviceaccount.com" in text
    assert "alice@example.com" not in text
    assert "x@iam.gserviceaccount.com.evil.example" not in redact("x@iam.gserviceaccount.com.evil.example")

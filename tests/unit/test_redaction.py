"""Redaction: secrets never survive redact(), in text, nested payloads or log records."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from cloudios.security.redaction import REDACTED, RedactingFilter, redact, redact_text

# Canary values shaped like the real thing (not real credentials).
SECRETS = [
    "ASIAQWERTYUIOPASDFGH",
    "AKIAZXCVBNMASDFGHJKL",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlX2NhbmFyeQ",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEcanary\n-----END RSA PRIVATE KEY-----",
    "ccat_0123456789abcdefghijklmnop",
]


def test_patterns_redact_and_leave_ordinary_text_alone() -> None:
    for secret in SECRETS:
        assert secret not in redact_text(f"failed with {secret} while scanning")
    assert "Bearer abcdefghijkl" not in redact_text("Authorization: Bearer abcdefghijkl")
    line = 'aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"'
    assert "wJalrXUtnFEMI" not in redact_text(line)
    ordinary = "instance i-0abc in us-east-1 is idle: cpu 1.2% over 30 days"
    assert redact_text(ordinary) == ordinary


def test_secret_keys_are_redacted_recursively_without_mutating_input() -> None:
    payload = {"spec": {"aws": {"externalId": "ext", "regions": ["us-east-1"]}}, "token": "t", "n": 1}
    out = redact(payload)
    assert out["spec"]["aws"]["externalId"] == REDACTED
    assert out["token"] == REDACTED
    assert out["spec"]["aws"]["regions"] == ["us-east-1"]
    assert payload["token"] == "t"


_keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)


@given(
    secret=st.sampled_from(SECRETS),
    path=st.lists(st.one_of(_keys, st.just(0)), min_size=0, max_size=6),
    prefix=st.text(alphabet="abc xyz:=", max_size=10),
)
def test_a_secret_planted_at_any_depth_never_survives(secret: str, path: list[object], prefix: str) -> None:
    value: object = prefix + " " + secret + " "
    for step in reversed(path):
        value = [value] if step == 0 else {step: value}
    assert secret not in repr(redact(value))


def _fail(message: str) -> None:
    raise RuntimeError(message)


def test_log_records_and_exceptions_are_redacted(caplog: object) -> None:
    logger = logging.getLogger("cloudios.test.redaction")
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    try:
        logger.warning("assumed role with key %s", SECRETS[0])
        try:
            _fail(f"denied for {SECRETS[1]}")
        except RuntimeError:
            logger.exception("scan failed")
    finally:
        logger.removeHandler(handler)
    rendered = "\n".join(logging.Formatter().format(r) for r in records)
    assert SECRETS[0] not in rendered
    assert SECRETS[1] not in rendered
    assert "RuntimeError" in rendered

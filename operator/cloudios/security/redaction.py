"""One redact() for logs, events, status, exceptions and outbound payloads: no secret ever leaves."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[REDACTED]"

# Sentry's default denylist plus what an operator holding cloud credentials handles.
_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "api_key",
        "apikey",
        "token",
        "auth",
        "authorization",
        "credentials",
        "private_key",
        "cookie",
        "session",
        "x_api_key",
        "access_token",
        "refresh_token",
        "client_secret",
        "secret_access_key",
        "aws_secret_access_key",
        "session_token",
        "aws_session_token",
        "kubeconfig",
        "client_key_data",
        "webhook_secret",
        "external_id",
        "externalid",
        "secretaccesskey",
        "sessiontoken",
        "clientsecret",
    }
)

_PATTERNS = (
    # AWS access key ids (AKIA long-term, ASIA temporary STS keys the scanner holds).
    re.compile(r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    # 40-char secret access keys next to a key-like word.
    re.compile(r"(?i)(aws.{0,20}?(?:secret|key).{0,5}?[=:\s\"']{1,4})[A-Za-z0-9/+=]{40}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),  # JWT
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(r"\bccat_[A-Za-z0-9_-]{16,}"),  # Cloudios cluster tokens
)


def _is_secret_key(key: str) -> bool:
    norm = key.lower().replace("-", "_")
    return norm in _SECRET_KEYS or any(w in norm for w in ("password", "secret", "token", "private_key"))


def redact_text(text: str) -> str:
    out = text
    for pattern in _PATTERNS:
        if pattern.groups:
            out = pattern.sub(lambda m: m.group(1) + REDACTED, out)
        else:
            out = pattern.sub(REDACTED, out)
    return out


def redact(value: Any) -> Any:
    """A copy of ``value`` with secret-looking keys and values replaced; the input is not mutated."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _is_secret_key(k) and v not in (None, "") else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


class RedactingFilter(logging.Filter):
    """Rewrites every record's message (args merged in) and exception text through redact()."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = redact_text(record.getMessage())
            record.args = None
            if record.exc_info:
                formatted = logging.Formatter().formatException(record.exc_info)
                record.exc_text = redact_text(formatted)
                record.exc_info = None
        except Exception:  # noqa: BLE001 - a record we cannot clean is dropped, never leaked
            return False
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of ``logger`` (root by default); idempotent."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

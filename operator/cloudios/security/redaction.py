"""One redact() for logs, events, status, the store, exceptions and outbound payloads: no secret leaves."""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, overload

from cloudios.security.prefixes import CLUSTER_TOKEN_PREFIX

REDACTED = "[REDACTED]"
MAX_DEPTH = 64
"""Deeper structures are replaced whole: redaction never recurses without bound (fail closed)."""

# Sentry's default denylist plus what an operator holding cloud credentials handles. Keys are
# compared lower-cased without '-', '_', '.' and spaces, so externalId, external_id and
# External-ID are one key.
_SECRET_KEYS = frozenset(
    {
        "auth",
        "session",
        "sessionid",
        "kubeconfig",
        "clientkeydata",
        "externalid",
        "accesskeyid",
        "awsaccesskeyid",
        "xamzcredential",
        "xamzsignature",
    }
)
_SECRET_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "privatekey",
    "credential",
    "apikey",
    "authorization",
    "cookie",
)
_KEY_NOISE = str.maketrans("", "", "-_. ")

# A value right after an escape (\\n, \\t, \\r in a repr()) starts there, not at the escape's letter.
_ESCAPED = r"|(?<=\\[nrt])"

# Labels whose value is a secret wherever they appear in text: headers, query strings, XML
# elements, repr()s of dicts and `key=value` pairs.
_LABELS = (
    r"x-amz-security-token|x-amz-credential|x-amz-signature|aws_?secret_?access_?key|secret_?access_?key"
    r"|aws_?session_?token|session_?token|security_?token|external_?id|client_?secret|api_?key"
    r"|access_?token|refresh_?token|id_?token|webhook_?secret|password|passwd|secret|token"
)
_LABELLED = re.compile(
    rf"(?i)(?:(?<![A-Za-z0-9]){_ESCAPED})((?:{_LABELS})(?:(?:\\?['\"])?[ \t]*[:=][ \t]*(?-i:b)?|>))"
    r"(\"[^\"'\r\n]*\"|'[^'\"\r\n]*'|(?:\\?['\"])?[^\s'\"<>&,;}\])]+)"
)
_QUOTE = re.compile(r"\\?['\"]")
# The whole Authorization value (scheme, credential scope, signature) up to the end of its quote or line.
_AUTHORIZATION = re.compile(
    r"(?i)(?<![A-Za-z0-9-])((?:proxy-)?authorization(?:\\?['\"])?[ \t]*[:=][ \t]*(?-i:b)?(?:\\?['\"])?)"
    r"[^'\"\r\n<]+"
)


def _keep_label(match: re.Match[str]) -> str:
    """The label and its quotes stay (readers see what was hidden); the value goes."""
    label, value = match.group(1), match.group(2)
    quote = _QUOTE.match(value)
    opener = quote.group(0) if quote else ""
    closed = bool(opener) and len(value) > len(opener) and value.endswith(opener[-1])
    return label + opener + REDACTED + (opener if closed else "")


def _long_run(match: re.Match[str]) -> str:
    """A secret key (40 characters) or a token (longer, with digits); mixed case rules out hex ids."""
    run, at = match.group(0), match.start()
    if at and match.string[at - 1] == "\\" and run[0] in "nrt":  # the run began with an escape's letter
        return run[0] + (REDACTED if _secret_shaped(run[1:]) else run[1:])
    return REDACTED if _secret_shaped(run) else run


def _secret_shaped(run: str) -> bool:
    body = run.rstrip("=")
    mixed = any(c.isupper() for c in body) and any(c.islower() for c in body)
    return mixed and (len(body) == 40 or any(c.isdigit() for c in body))  # noqa: PLR2004


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # PEM blocks (private keys, certificates), also unterminated ones.
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]{1,64}-----[\s\S]*?(?:-----END [A-Z0-9 ]{1,64}-----|\Z)"),
        REDACTED,
    ),
    # Passwords in URLs: scheme://user:password@host.
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,20}://[^\s:/@'\"]{0,256}:)[^\s@/'\"]{1,256}(@)"),
        rf"\1{REDACTED}\2",
    ),
    (_AUTHORIZATION, rf"\1{REDACTED}"),
    (re.compile(r"(?i)\bbearer[ \t]+[A-Za-z0-9._~+/=-]{8,}"), f"Bearer {REDACTED}"),
    (_LABELLED, _keep_label),
    # JWTs: base64url JSON header and payload, optional signature.
    (
        re.compile(
            rf"(?:(?<![A-Za-z0-9_-]){_ESCAPED})eyJ[A-Za-z0-9_-]{{5,}}\.eyJ[A-Za-z0-9_-]{{5,}}\.[A-Za-z0-9_-]*"
        ),
        REDACTED,
    ),
    (
        re.compile(rf"(?:(?<![A-Za-z0-9]){_ESCAPED}){re.escape(CLUSTER_TOKEN_PREFIX)}[A-Za-z0-9_-]{{16,}}"),
        REDACTED,
    ),
    # STS session tokens, whatever their length or alphabet mix: they open with a known header.
    (
        re.compile(
            rf"(?:(?<![A-Za-z0-9/+]){_ESCAPED})[A-Za-z0-9]{{2}}o[A-Za-z](?:ZXIvYXdz|b3JpZ2lu)[A-Za-z0-9/+]*+=*+"
        ),
        REDACTED,
    ),
    # Base64 runs: 40-character secret access keys in any context, other keys and tokens.
    (
        re.compile(rf"(?:(?<![A-Za-z0-9/+]){_ESCAPED})[A-Za-z0-9/+]{{40,}}+={{0,2}}+"),
        _long_run,
    ),
    # AWS access key ids: AKIA long-term, ASIA temporary STS keys (what the scanner holds), others;
    # after the runs, so a key id inside a secret-shaped run cannot split it.
    (
        re.compile(
            r"(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)"
            r"[A-Z0-9]{16}(?![A-Z0-9])"
        ),
        REDACTED,
    ),
    # Email addresses (PII). GCP service accounts (`name@project.iam.gserviceaccount.com`) are machine
    # identities a platform team needs to see in a condition, not personal data: they stay.
    (
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@(?![A-Za-z0-9-]+\.iam\.gserviceaccount\.com\b)"
            r"[A-Za-z0-9-]++(?:\.[A-Za-z0-9-]++)+"
        ),
        REDACTED,
    ),
)


def _is_secret_key(key: str) -> bool:
    norm = key.lower().translate(_KEY_NOISE)
    return norm in _SECRET_KEYS or any(part in norm for part in _SECRET_KEY_PARTS)


def _text(text: str) -> str:
    out = text
    for pattern, replacement in _PATTERNS:
        out = pattern.sub(replacement, out)
    return out


_SCALARS = (int, float, Decimal, dt.date, dt.time, dt.timedelta, enum.Enum, type(None))


@overload
def redact(value: str) -> str: ...
@overload
def redact(value: Mapping[str, Any]) -> dict[str, Any]: ...
@overload
def redact(value: Any) -> Any: ...
def redact(value: Any) -> Any:
    """A copy of ``value`` with secrets replaced by ``[REDACTED]``; the input is never mutated.

    Text (str, bytes) is scanned for secret-shaped values; mappings also lose the values of
    secret-named keys; lists, tuples and sets are walked to ``MAX_DEPTH``. Numbers, dates and
    enums are kept; any other object is rendered with ``str()`` and scanned as text.
    """
    return _redact(value, 0)


def _redact(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, _SCALARS):
        return value
    if depth >= MAX_DEPTH:
        return REDACTED
    if isinstance(value, Mapping):
        return {_key(k): _entry(k, v, depth) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = (_redact(v, depth + 1) for v in value)
        return tuple(items) if isinstance(value, tuple) else list(items)
    raw = bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)
    return _text(raw)


def _key(key: Any) -> Any:
    return _text(key) if isinstance(key, str) else key


def _entry(key: Any, value: Any, depth: int) -> Any:
    """A mapping's value: whole when the key names a secret (unless empty or a flag), else redacted."""
    named_secret = isinstance(key, str) and _is_secret_key(key)
    if named_secret and value not in (None, "") and not isinstance(value, bool):
        return REDACTED
    return _redact(value, depth + 1)


def redact_text(text: str) -> str:
    """``redact`` for a string (kept for callers that predate the structured form)."""
    return _text(text)


class RedactingFilter(logging.Filter):
    """Rewrites every record's message (args merged in), exception and stack text through redact()."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            record.msg = redact(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
            elif record.exc_text:
                record.exc_text = redact(record.exc_text)
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        except Exception:  # noqa: BLE001 - a record we cannot clean is dropped, never leaked
            return False
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Attach the filter to every handler of ``logger`` (root by default); idempotent."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())

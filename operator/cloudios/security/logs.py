"""Process logging: redaction on every handler, and the SDKs' wire loggers quiet unless asked for."""

from __future__ import annotations

import logging
import sys

from cloudios.security.redaction import install_log_redaction

WIRE_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "kubernetes",
    "httpx",
    "httpcore",
    "azure",
    "google",
    "grpc",
)
"""Loggers that print HTTP requests and responses (headers, signed bodies, returned credentials)."""


def quiet_wire_loggers(*, wire: bool = False) -> None:
    """The SDKs' request/response logs: WARNING (or the root level, if higher) unless ``wire``."""
    floor = max(logging.WARNING, logging.getLogger().level)
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if wire else floor)


PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"


def configure(level: int | str, *, wire: bool = False, fmt: str = PLAIN_FORMAT) -> None:
    """Plain lines on stderr at ``level``, every record redacted; wire logs only when ``wire``."""
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    logging.getLogger().setLevel(level)
    install_log_redaction()
    quiet_wire_loggers(wire=wire)

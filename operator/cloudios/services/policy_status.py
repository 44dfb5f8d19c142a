"""ScanPolicy conditions beyond one run's result: failed publishing (and what a tick does about it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudios.security.redaction import redact
from cloudios.sinks import conditions
from cloudios.sinks.conditions import Observation

READY = "Ready"
PUBLISH_FAILED = "PublishFailed"


def publish_failed(summary: str, error: str) -> Observation:
    return Observation(
        READY,
        "False",
        PUBLISH_FAILED,
        f"{summary} The scans are recorded, but publishing the Recommendations failed: {error}; "
        "the next scheduler tick publishes again without rescanning.",
    )


def needs_publishing(body: Mapping[str, Any]) -> bool:
    """Whether the last run's publishing failed (its scans are in the store, not yet published)."""
    ready = conditions.find(conditions.parse((body.get("status") or {}).get("conditions")), READY)
    return ready is not None and ready.reason == PUBLISH_FAILED


def describe(exc: BaseException) -> str:
    """One redacted line about a failure after a scan (an API error: its status and reason)."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status is not None and reason is not None:
        return f"{type(exc).__name__} {status} {reason}"
    return redact(f"{type(exc).__name__}: {exc}")[:500]

"""ScanPolicy conditions beyond one run's result: accounts left out (Degraded), failed publishing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloudios.domain.text import printable
from cloudios.security.redaction import redact
from cloudios.services.account_scans import AccountRun
from cloudios.sinks import conditions
from cloudios.sinks.conditions import Observation

READY, DEGRADED = "Ready", "Degraded"
ACCOUNTS_SKIPPED, ACCOUNTS_READY = "AccountsSkipped", "AccountsReady"
NO_ACCOUNT_READY = "NoAccountReady"
PUBLISH_FAILED = "PublishFailed"
_BY_CHOICE = frozenset({"Suspended"})  # a user's choice, not a problem to report
_LISTED = 5


def not_ready(runs: Iterable[AccountRun]) -> list[AccountRun]:
    """Selected accounts this tick skipped because they cannot be scanned (suspension aside)."""
    return [r for r in runs if r.outcome == "Skipped" and r.reason not in _BY_CHOICE]


def _listing(runs: list[AccountRun]) -> str:
    shown = "; ".join(f"{r.name}: {r.message}" for r in runs[:_LISTED])
    return shown + (f"; and {len(runs) - _LISTED} more" if len(runs) > _LISTED else "")


def degraded(runs: Iterable[AccountRun]) -> Observation:
    """Degraded=True while selected accounts are skipped as not Ready, so a green run over no
    accounts is never the whole story."""
    left_out = not_ready(runs)
    if not left_out:
        return Observation(
            DEGRADED, "False", ACCOUNTS_READY, "every selected account that is not suspended can be scanned."
        )
    return Observation(
        DEGRADED,
        "True",
        ACCOUNTS_SKIPPED,
        f"{len(left_out)} selected account(s) are not scanned because they are not Ready: "
        f"{_listing(left_out)}. They are scanned as soon as their credential check passes (a "
        "failed check is retried with backoff); see each CloudAccount's conditions.",
    )


def nothing_scanned(runs: Iterable[AccountRun]) -> Observation | None:
    """Ready=False when a run found no account it could scan although some are selected."""
    left_out = not_ready(runs)
    if not left_out:
        return None
    return Observation(
        READY,
        "False",
        NO_ACCOUNT_READY,
        f"no selected account could be scanned: {_listing(left_out)}; fix the CloudAccounts' "
        "conditions (they are re-checked with backoff).",
    )


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


def differs(body: Mapping[str, Any], observation: Observation) -> bool:
    """Whether writing ``observation`` would change the object's condition of that type."""
    found = conditions.find(conditions.parse((body.get("status") or {}).get("conditions")), observation.type)
    if found is None:
        return True
    written = printable(redact(observation.message))[: conditions.MESSAGE_MAX]  # as conditions.merge does
    return (found.status, found.reason, found.message) != (observation.status, observation.reason, written)


def describe(exc: BaseException) -> str:
    """One redacted line about a failure after a scan (an API error: its status and reason)."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    if status is not None and reason is not None:
        return f"{type(exc).__name__} {status} {reason}"
    return redact(f"{type(exc).__name__}: {exc}")[:500]

"""Validating webhook for ScanPolicies: refuse a schedule that never fires (CEL cannot tell) and a
webhook URL the SSRF guard refuses (metadata, loopback, link-local, private unless allowed)."""

# The CRD schema checks the cron syntax only in the operator (croniter), and no CEL rule can know
# that "0 0 31 2 *" never comes. The operator reports such a policy as Ready=False InvalidSchedule
# anyway; this webhook says so at `kubectl apply`. Its failurePolicy is Ignore: policies can be
# applied while the operator is down, and the condition still catches them.

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from cloudios.api import GROUP, VERSION, schedules
from cloudios.api.names import PLURALS, SCAN_POLICY
from cloudios.controller import handling
from cloudios.security import urls
from cloudios.sinks.operations_metrics import OperationsMetrics

PLURAL = PLURALS[SCAN_POLICY]
VALIDATE_ID = "validate-scanpolicy-schedule"  # also the URL path kopf serves
INVALID = 422


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def schedule_problem(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, now: dt.datetime
) -> str | None:
    """Why ``new``'s schedule is refused, or None. Only a new or changed schedule is checked, so a
    stored policy never blocks unrelated updates (annotations, labels)."""
    schedule = ((new or {}).get("spec") or {}).get("schedule")
    if not isinstance(schedule, str) or schedule == ((old or {}).get("spec") or {}).get("schedule"):
        return None
    from croniter import croniter  # noqa: PLC0415 - the API models import it the same way

    if not croniter.is_valid(schedule):
        return f"spec.schedule: '{schedule}' is not a valid cron expression (e.g. '0 6 * * *')"
    problem = schedules.never_fires(schedule, now)
    return f"spec.schedule: {problem}" if problem is not None else None


def notification_problems(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, allow_private: bool
) -> list[str]:
    """Why ``new``'s webhook URLs are refused. A URL the old object had already is left to the
    NotificationsReady condition, so a stored policy never blocks unrelated updates. Host names are
    resolved only at delivery (and checked again there); here literal addresses and names are judged."""
    before = {
        str(n.get("url"))
        for n in ((old or {}).get("spec") or {}).get("notifications") or []
        if isinstance(n, dict)
    }
    problems = []
    for i, item in enumerate(((new or {}).get("spec") or {}).get("notifications") or []):
        url = item.get("url") if isinstance(item, dict) else None
        if not isinstance(url, str) or url in before:
            continue
        problem = urls.webhook_url_problem(url, allow_private=allow_private)
        if problem is not None:
            problems.append(f"spec.notifications[{i}].url is refused: {problem}")
    return problems


def verifier_problem(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, *, allow_private: bool
) -> str | None:
    """Why ``new``'s spec.verifier.endpoint is refused (judged like webhook URLs); an endpoint the old
    object had already is left to the VerifierReady condition."""

    def endpoint(body: Mapping[str, Any] | None) -> object:
        verifier = ((body or {}).get("spec") or {}).get("verifier")
        return verifier.get("endpoint") if isinstance(verifier, dict) else None

    url = endpoint(new)
    if not isinstance(url, str) or url == endpoint(old):
        return None
    problem = urls.webhook_url_problem(url, allow_private=allow_private)
    return f"spec.verifier.endpoint is refused: {problem}" if problem is not None else None


def register(
    registry: kopf.OperatorRegistry,
    *,
    persistent: bool = True,
    clock: Callable[[], dt.datetime] = _utcnow,
    allows_private: Callable[[str], bool] = lambda _namespace: False,
    verifier_allows_private: Callable[[str], bool] = lambda _namespace: False,
    metrics: OperationsMetrics | None = None,
) -> None:
    """Register the ScanPolicy webhook on ``registry`` (CREATE and UPDATE, fail open); a namespace
    for which ``allows_private`` (webhooks) or ``verifier_allows_private`` (the AI verifier) is true
    may name private addresses there."""

    @kopf.on.validate(
        GROUP,
        VERSION,
        PLURAL,
        id=VALIDATE_ID,
        operations=["CREATE", "UPDATE"],
        persistent=persistent,
        ignore_failures=True,
        registry=registry,
    )
    @handling.admission(VALIDATE_ID, metrics)
    def check_schedule(*, old: kopf.Body | None = None, new: kopf.Body | None = None, **_: Any) -> None:
        before, after = None if old is None else dict(old), None if new is None else dict(new)
        problem = schedule_problem(before, after, clock())
        namespace = str(((after or {}).get("metadata") or {}).get("namespace") or "")
        problems = [problem] if problem is not None else []
        problems += notification_problems(before, after, allow_private=allows_private(namespace))
        endpoint = verifier_problem(before, after, allow_private=verifier_allows_private(namespace))
        problems += [endpoint] if endpoint is not None else []
        if problems:
            raise kopf.AdmissionError("; ".join(problems), code=INVALID)

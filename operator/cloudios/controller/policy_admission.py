"""Validating webhook for ScanPolicies: refuse a schedule that never fires (CEL cannot tell) and a
webhook URL the SSRF guard refuses (metadata, loopback, link-local, private unless allowed)."""

# The CRD schema checks the cron syntax only in the operator (croniter), and no CEL rule can know
# that "0 0 31 2 *" never comes. The operator reports such a policy as Ready=False InvalidSchedule
# anyway; this webhook says so at `kubectl apply`. Its failurePolicy is Ignore: policies can be
# applied while the operator is down, and the condition still catches them.

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import kopf

from cloudios.api import GROUP, VERSION
from cloudios.api.admission import notification_problems, schedule_problem, verifier_problem
from cloudios.api.names import PLURALS, SCAN_POLICY

PLURAL = PLURALS[SCAN_POLICY]
VALIDATE_ID = "validate-scanpolicy-schedule"  # also the URL path kopf serves
INVALID = 422


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def register(
    registry: kopf.OperatorRegistry,
    *,
    persistent: bool = True,
    clock: Callable[[], dt.datetime] = _utcnow,
    allows_private: Callable[[str], bool] = lambda _namespace: False,
    verifier_allows_private: Callable[[str], bool] = lambda _namespace: False,
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

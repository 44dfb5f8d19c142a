"""Validating webhook for ScanPolicies: refuse a schedule that never fires (CEL cannot tell)."""

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


def register(
    registry: kopf.OperatorRegistry,
    *,
    persistent: bool = True,
    clock: Callable[[], dt.datetime] = _utcnow,
) -> None:
    """Register the ScanPolicy schedule webhook on ``registry`` (CREATE and UPDATE, fail open)."""

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
        problem = schedule_problem(
            None if old is None else dict(old), None if new is None else dict(new), clock()
        )
        if problem is not None:
            raise kopf.AdmissionError(problem, code=INVALID)

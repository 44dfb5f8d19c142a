"""What the ScanPolicy admission webhook refuses, as plain functions: the operator's webhook and
`cloudios validate` give the same messages (a schedule that never fires, a refused webhook URL or
AI verifier endpoint)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cloudios.api import schedules
from cloudios.security import urls


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

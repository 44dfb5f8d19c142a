"""Whether a cron schedule ever fires: its next run must come within a year and a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from croniter import croniter
from croniter.croniter import CroniterError

MAX_WAIT = timedelta(days=366)


def next_run(schedule: str, after: datetime) -> datetime | None:
    """The first cron slot strictly after ``after`` (UTC), or None when none comes within MAX_WAIT."""
    try:
        found: datetime = croniter(schedule, after.astimezone(UTC)).get_next(datetime)
    except (CroniterError, ValueError):
        return None  # e.g. "0 0 31 2 *": croniter finds no matching date at all
    found = found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)
    return found if found - after <= MAX_WAIT else None


def never_fires(schedule: str, now: datetime) -> str | None:
    """Why a syntactically valid schedule is unusable (it does not fire within MAX_WAIT), or None."""
    if next_run(schedule, now) is not None:
        return None
    return (
        f"'{schedule}' never runs: no time within {MAX_WAIT.days} days matches it (a day that does "
        "not exist, such as February 30, or one that comes only every few years); use a schedule "
        "that fires at least once a year, e.g. '0 6 * * *'"
    )

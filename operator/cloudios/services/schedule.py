"""When a ScanPolicy runs: cron slots since the last run, a first run at once, and run-now requests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from croniter import croniter

RUN_NOW = "cloudios.io/run-now"
RUN_NOW_HANDLED = "cloudios.io/run-now-handled"


def next_after(schedule: str, after: datetime) -> datetime:
    """The first cron slot strictly after ``after`` (UTC)."""
    value: datetime = croniter(schedule, after.astimezone(UTC)).get_next(datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def is_due(schedule: str, last_run: datetime | None, now: datetime) -> bool:
    """Never run: due at once. Otherwise due when a cron slot passed since the last run."""
    return last_run is None or next_after(schedule, last_run) <= now


def run_now_request(annotations: Mapping[str, str] | None) -> str | None:
    """The run-now value if it is new (differs from the one last handled), else None."""
    values = annotations or {}
    wanted = values.get(RUN_NOW)
    if not wanted or wanted == values.get(RUN_NOW_HANDLED):
        return None
    return wanted


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 time from a status field, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

"""A ScanPolicy schedule must fire within a year and a day: the model, and the admission rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cloudios.api import ScanPolicySpec, admission, schedules

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_a_schedule_must_fire_within_a_year_and_a_day() -> None:
    assert schedules.next_run("0 6 * * *", NOW) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert schedules.next_run("0 0 1 1 *", NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    for never in ("0 0 31 2 *", "0 0 30 2 *", "0 0 31 4 *", "0 0 29 2 *"):  # Feb 29: only in 2028
        assert schedules.next_run(never, NOW) is None, never
        assert f"'{never}' never runs" in (schedules.never_fires(never, NOW) or "")
    assert schedules.never_fires("*/5 * * * *", NOW) is None
    with pytest.raises(ValidationError, match="never runs"):
        ScanPolicySpec(schedule="0 0 31 2 *")


def test_admission_checks_only_a_new_or_changed_schedule() -> None:
    def body(schedule: str) -> dict[str, Any]:
        return {"spec": {"schedule": schedule}}

    never = admission.schedule_problem(None, body("0 0 31 2 *"), NOW) or ""
    assert never.startswith("spec.schedule: '0 0 31 2 *' never runs")
    bad_syntax = admission.schedule_problem(None, body("daily"), NOW) or ""
    assert "not a valid cron expression" in bad_syntax
    assert admission.schedule_problem(None, {"spec": {}}, NOW) is None  # the default fires
    # An object already stored with such a schedule can still get labels or annotations.
    assert admission.schedule_problem(body("0 0 31 2 *"), body("0 0 31 2 *"), NOW) is None
    assert admission.schedule_problem(body("0 6 * * *"), body("0 0 30 2 *"), NOW) is not None

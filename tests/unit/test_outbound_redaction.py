"""What leaves the process is redacted: health-check rows, Job termination messages, Events, reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudios.cli.report import AccountError, Report
from cloudios.services import job
from cloudios.sinks import notices
from cloudios.sinks.conditions import Condition, Transition
from cloudios.store import SqlRepository
from cloudios.store.health import HealthCheckRecord

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
# What an AWS error echoing a request could carry: a temporary key id and an STS session token.
KEY_ID = "ASIAQWERTYUIOPASDFGH"
TOKEN = "IQoJb3JpZ2luX2VjEHcaCXVzLWVhc3QtMSJGMEQCIBnNfEXAMPLE"
LEAKY = f"AssumeRole failed for {KEY_ID} with token {TOKEN} (contact ops@example.com)"


def _absent(text: str) -> None:
    for secret in (KEY_ID, TOKEN, "ops@example.com"):
        assert secret not in text


def test_health_check_messages_are_stored_redacted(tmp_path: Path) -> None:
    store = SqlRepository.sqlite(tmp_path)
    try:
        store.record_health_check(
            HealthCheckRecord("team-a", "prod", NOW, ok=False, reason="AwsApiError", message=LEAKY)
        )
        (stored,) = store.health_checks("team-a")
    finally:
        store.close()
    _absent(stored.message)
    assert stored.message.startswith("AssumeRole failed for [REDACTED]")


def test_job_termination_messages_are_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "termination-log"
    monkeypatch.setattr(job, "TERMINATION_LOG", str(log))
    job._terminate(f"AwsApiError: {LEAKY}")
    _absent(log.read_text())
    assert log.read_text().startswith("AwsApiError: AssumeRole failed")


def test_event_messages_are_redacted() -> None:
    body = {"apiVersion": "cloudios.io/v1alpha1", "kind": "CloudAccount", "metadata": {"name": "prod"}}
    new = Condition(
        type="Ready", status="False", reason="AwsApiError", message=LEAKY, last_transition_time=NOW
    )
    (notice,) = notices.from_transitions(body, [Transition("Ready", None, None, new)])
    _absent(notice.message)


def test_cli_report_errors_and_warnings_are_redacted() -> None:
    report = Report(errors=[AccountError("a.yaml", "CloudAccount/prod", "AwsApiError", LEAKY)])
    _absent(str(report.to_json()))

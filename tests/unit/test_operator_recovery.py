"""How the operator comes back and stays readable: transient failures re-checked with backoff, its
dead predecessors' peering records recognised, routine successes out of the INFO log."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudios.controller import log_noise, peering
from cloudios.services import policy_status, reprobe
from cloudios.services.account_scans import AccountRun
from cloudios.sinks import notices
from cloudios.sinks.conditions import Observation, merge


def test_a_transient_failure_is_rechecked_with_backoff_up_to_the_interval() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def check(reason: str, *, ok: bool = False, at: datetime = now) -> dict[str, Any]:
        return {"time": at.isoformat(), "ok": ok, "reason": reason, "message": ""}

    def due(last: dict[str, Any] | None, failures: int) -> float:
        later = now + timedelta(hours=1)
        at = reprobe.due_at(last, failures=failures, interval=900, retry=10, fallback=later)
        return (at - now).total_seconds()

    assert [due(check("EndpointUnreachable"), n) for n in (0, 1, 2, 3, 4, 10)] == [10, 10, 20, 40, 80, 900]
    assert due(check("ProbeTimedOut"), 2) == 20
    assert due(check("GcpUnreachable"), 1) == 10
    for lasting in ("AssumeRoleDenied", "AccountMismatch", "SecretNotFound", "UnknownRegion"):
        assert due(check(lasting), 3) == 900, lasting
    assert due(check("CredentialsVerified", ok=True), 0) == 900
    assert due(None, 0) == 3600  # never checked: the first check's delay
    newer = check("CredentialsVerified", ok=True, at=now + timedelta(seconds=5))
    assert reprobe.newer(check("EndpointUnreachable"), newer) is newer


def test_a_degraded_policy_is_a_warning_and_its_recovery_good_news() -> None:
    body = {"apiVersion": "cloudios.io/v1alpha1", "kind": "ScanPolicy", "metadata": {"name": "daily"}}
    skipped = Observation("Degraded", "True", "AccountsSkipped", "prod: not Ready")
    recovered = Observation("Degraded", "False", "AccountsReady", "every account can be scanned")
    merged, first = merge([], [skipped], generation=1)
    _, second = merge(merged, [recovered], generation=1)
    events = [(n.type, n.reason) for n in notices.from_transitions(body, [*first, *second])]
    assert events == [("Warning", "AccountsSkipped"), ("Normal", "AccountsReady")]


def test_routine_successes_are_not_logged_at_info() -> None:
    quiet = log_noise.RoutineSuccessFilter(["follow-decision"], debug=False)
    loud = log_noise.RoutineSuccessFilter(["follow-decision"], debug=True)

    def record(message: str, level: int = logging.INFO) -> logging.LogRecord:
        return logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)

    for routine in ("Timer 'scheduler' succeeded.", "Daemon 'health-check' succeeded.",
                    "Indexer 'claims' succeeded.", "Handler 'follow-decision' succeeded."):  # fmt: skip
        assert not quiet.filter(record(routine)), routine
        assert loud.filter(record(routine))
    for kept in ("Handler 'reconcile' succeeded.", "Webhook 'validate-recommendation-decision' succeeded.",
                 "Timer 'scheduler' failed temporarily: boom"):  # fmt: skip
        assert quiet.filter(record(kept)), kept
    assert quiet.filter(record("Timer 'scheduler' succeeded.", logging.WARNING))


def test_only_accounts_skipped_as_not_ready_degrade_a_policy() -> None:
    runs = [
        AccountRun("paused", "Skipped", "Suspended", "spec.suspend is true"),
        AccountRun("fine", "Succeeded", "ScanSucceeded", "3 finding(s)"),
    ]
    assert (policy_status.degraded(runs).status, policy_status.degraded(runs).reason) == (
        "False",
        "AccountsReady",
    )
    assert policy_status.nothing_scanned(runs) is None
    runs.append(AccountRun("down", "Skipped", "EndpointUnreachable", "not Ready (EndpointUnreachable): ..."))
    degraded = policy_status.degraded(runs)
    assert (degraded.status, degraded.reason) == ("True", "AccountsSkipped")
    assert "down: not Ready (EndpointUnreachable)" in degraded.message
    assert "paused" not in degraded.message
    nothing = policy_status.nothing_scanned(runs)
    assert nothing is not None
    assert (nothing.type, nothing.status, nothing.reason) == ("Ready", "False", "NoAccountReady")


def test_records_of_our_dead_predecessors_on_this_host_are_stale() -> None:
    me = peering.process_identity()
    who = me.split("/", 1)[0]
    dead, alive = 4_000_001, 4_000_002
    records = [
        me,
        f"{who}/pid-{dead}/20261129000000",
        f"{who}/pid-{alive}/20261129000000",
        f"{who}/pid-{os.getpid()}/20261128000000",  # our pid, an earlier start: a container restart
        f"someone@elsewhere/pid-{dead}/20261129000000",
        "cloudios-7d9f8b6c5-abcde",  # a pod's name: kopf knows its own
    ]
    found = peering.stale(records, me, alive=lambda pid: pid == alive)
    assert found == [records[1], records[3]]
    assert peering.stale(records, "cloudios-7d9f8b6c5-abcde") == []

"""How the operator comes back and stays readable: routine successes out of the INFO log."""

from __future__ import annotations

import logging

from cloudios.controller import log_noise


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

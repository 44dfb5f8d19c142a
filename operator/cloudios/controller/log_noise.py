"""Routine success lines (a timer's every tick, every watch event) are DEBUG, not INFO."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# kopf logs "<handler> succeeded." at INFO after every call: for the scheduler timer of each policy
# (every 30 s) and each Recommendation event that buried everything else (27 % of all lines).
_SUCCEEDED = re.compile(r"^(?P<kind>Timer|Daemon|Indexer|Handler|Webhook) '(?P<id>[^']+)' succeeded\.$")


class RoutineSuccessFilter(logging.Filter):
    """Drops kopf's success line of timers, daemons, indexers and the named (event or webhook)
    handlers unless the operator logs at DEBUG; changes, warnings and errors pass untouched."""

    def __init__(self, routine: Iterable[str], *, debug: bool) -> None:
        super().__init__()
        self._routine = frozenset(routine)
        self._debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or self._debug:
            return True
        found = _SUCCEEDED.match(record.getMessage())
        if found is None:
            return True
        return found["kind"] in {"Handler", "Webhook"} and found["id"] not in self._routine


def install(logger: logging.Logger, routine: Iterable[str], *, debug: bool) -> None:
    """Add the filter to ``logger`` once (kopf's per-object records go through kopf.objects)."""
    if not any(isinstance(f, RoutineSuccessFilter) for f in logger.filters):
        logger.addFilter(RoutineSuccessFilter(routine, debug=debug))

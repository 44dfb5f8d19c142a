"""API-call accounting per 'service.Operation' from botocore's event system.

Two numbers per operation, both from events on the clients Cloudios creates (never global hooks):

* ``before-call`` fires once per logical API call (one paginator page is one call): this is what
  ``CollectResult.api_calls['<service>.<Operation>']`` reports.
* ``before-send`` fires once per HTTP attempt, retries included. Attempts beyond the logical
  calls are reported as ``'<service>.<Operation>.retries'`` (only when non-zero), so summing the
  keys without a ``.retries`` suffix gives the billed calls.
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import partial
from typing import Any

RETRIES_SUFFIX = ".retries"


class CallCounter:
    """Thread-safe counts of logical calls and HTTP attempts, keyed 'service.Operation'."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()

    def attach(self, client: Any, service: str) -> None:
        """Count every call ``client`` makes under ``service`` (e.g. 'ec2', 'cloudwatch').

        Must run in the thread that created the client, before it is shared: registering
        handlers is not thread-safe.
        """
        events = client.meta.events
        events.register("before-call", partial(self._on_event, self._calls, service))
        events.register("before-send", partial(self._on_event, self._attempts, service))

    def _on_event(self, counter: Counter[str], service: str, event_name: str, **_: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            counter[f"{service}.{operation}"] += 1

    def calls(self, key: str) -> int:
        with self._lock:
            return self._calls[key]

    def snapshot(self) -> Counter[str]:
        """Logical calls per operation plus '<op>.retries' for extra HTTP attempts."""
        with self._lock:
            result = Counter(self._calls)
            for key, attempts in self._attempts.items():
                retries = attempts - self._calls[key]
                if retries > 0:
                    result[key + RETRIES_SUFFIX] = retries
        return result

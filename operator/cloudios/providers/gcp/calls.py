"""API-call accounting per 'service.Operation', with retries counted apart.

Every page of a paginated list is one call. Retries after RESOURCE_EXHAUSTED / 429 / UNAVAILABLE
are reported as '<service>.<Operation>.retries', so the keys without that suffix are the calls
billed against quotas.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

from cloudios.providers.gcp.settings import GcpTuning

RETRIES_SUFFIX = ".retries"
RETRYABLE = (gexc.ResourceExhausted, gexc.TooManyRequests, gexc.ServiceUnavailable, gexc.InternalServerError)


class CallCounter:
    """Thread-safe counts keyed 'service.Operation' (e.g. 'monitoring.ListTimeSeries')."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def calls(self, key: str) -> int:
        with self._lock:
            return self._counts[key]

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def retry(self, key: str, tuning: GcpTuning) -> gretry.Retry:
        """Exponential backoff with jitter on throttling and transient errors, each retry counted."""
        on_error: Callable[[Exception], None] = lambda _exc: self.add(key + RETRIES_SUFFIX)  # noqa: E731
        return gretry.Retry(
            predicate=gretry.if_exception_type(*RETRYABLE),
            initial=tuning.retry_initial,
            maximum=tuning.retry_maximum,
            multiplier=2.0,
            timeout=tuning.retry_deadline,
            on_error=on_error,
        )

"""Ingest's in-memory limits: token buckets per cluster token and per address, and a short-lived
cache of token lookups. Per replica: N ingest replicas allow N times the rate (docs/agent-ingest.md).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cloudios.store.cluster_tokens import TokenGrant


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """``rate`` per second refill up to ``burst``, per key; ``take`` answers 0 or seconds to wait."""

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.rate, self.burst, self._clock, self._max = rate, float(burst), clock, max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now

    def take(self, key: str) -> float:
        """Spend one token of ``key``: 0.0 when allowed, else how many seconds until one is back."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self._max:
                    self._forget_full(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            self._refill(bucket, now)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate

    def wait(self, key: str) -> float:
        """Seconds until ``key`` may spend again (0.0 now), without spending."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                return 0.0
            self._refill(bucket, now)
            return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        for key in list(self._buckets):
            self._refill(self._buckets[key], now)
            if self._buckets[key].tokens >= self.burst:
                del self._buckets[key]
        if len(self._buckets) >= self._max:  # every key busy: start over rather than grow
            self._buckets.clear()


class Grants:
    """Token lookups by SHA-256, each reused for at most ``ttl`` seconds (unknown tokens too, so a
    flood of made-up tokens costs the database one query per token per ``ttl``)."""

    def __init__(
        self,
        find: Callable[[str], TokenGrant | None],
        ttl: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._find, self.ttl, self._clock, self._max = find, ttl, clock, max_entries
        self._cache: OrderedDict[str, tuple[float, TokenGrant | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> TokenGrant | None:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        grant = self._find(digest)
        if self.ttl > 0:
            with self._lock:
                self._cache[digest] = (now, grant)
                self._cache.move_to_end(digest)
                while len(self._cache) > self._max:
                    self._cache.popitem(last=False)
        return grant

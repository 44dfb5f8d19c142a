"""A fixed-accuracy, mergeable quantile sketch (log-spaced buckets, DDSketch-style).

Values are non-negative (CPU millicores, memory bytes). A value ``v > 0`` falls in bucket
``ceil(log(v) / log(GAMMA))``; the bucket's representative value is within ``RELATIVE_ACCURACY`` of
every value in it, so a quantile read from the sketch is within 2 % of the true sample quantile.
Zero (and anything below ``MIN_VALUE``) is counted apart. Sketches of different hours, days or
agents merge by adding counts, which is what lets the operator compute a 30-day p99 from daily
summaries instead of a p99 of daily p99s. Pure Python, no dependencies: the agent and the operator
(through ``wire``) share it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.02
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_VALUE = 1e-3
MAX_BUCKETS = 2048
MAX_INDEX = 4096
"""Bucket indexes on the wire lie within +/- this (GAMMA**4096 is far beyond any real quantity)."""
"""A sketch never holds more buckets than this (memory bytes up to 2**60 need about 2,100 at 2 %;
the lowest buckets are collapsed first, so only the smallest values lose accuracy)."""


class SketchError(ValueError):
    """A wire sketch was malformed; the message says what was wrong."""


class Sketch:
    """Counts per log-spaced bucket plus a zero count; mergeable; quantiles within 2 %."""

    __slots__ = ("_buckets", "count", "max", "sum", "zeros")

    def __init__(self) -> None:
        self._buckets: dict[int, int] = {}
        self.zeros = 0
        self.count = 0
        self.sum = 0.0
        self.max = 0.0

    def add(self, value: float, weight: int = 1) -> None:
        """Count ``value`` (clamped at 0) ``weight`` times."""
        if weight <= 0 or math.isnan(value):
            return
        value = max(value, 0.0)
        self.count += weight
        self.sum += value * weight
        self.max = max(self.max, value)
        if value < MIN_VALUE:
            self.zeros += weight
            return
        key = math.ceil(math.log(value) / _LOG_GAMMA)
        self._buckets[key] = self._buckets.get(key, 0) + weight
        if len(self._buckets) > MAX_BUCKETS:
            self._collapse()

    def merge(self, other: Sketch) -> None:
        """Add ``other``'s counts to this sketch."""
        for key, n in other._buckets.items():
            self._buckets[key] = self._buckets.get(key, 0) + n
        self.zeros += other.zeros
        self.count += other.count
        self.sum += other.sum
        self.max = max(self.max, other.max)
        if len(self._buckets) > MAX_BUCKETS:
            self._collapse()

    def quantile(self, q: float) -> float | None:
        """The value at quantile ``q`` (0..1), or None for an empty sketch; never above ``max``."""
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        seen = self.zeros
        if rank < seen:
            return 0.0
        for key in sorted(self._buckets):
            seen += self._buckets[key]
            if rank < seen:
                return min(2 * GAMMA**key / (GAMMA + 1), self.max)
        return self.max

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def to_wire(self) -> dict[str, object]:
        """The JSON form: ``{"zeros": n, "buckets": {"<index>": count, ...}}`` (sparse)."""
        return {"zeros": self.zeros, "buckets": {str(k): n for k, n in sorted(self._buckets.items())}}

    @classmethod
    def from_wire(cls, data: object, *, count: int, total: float, peak: float) -> Sketch:
        """Rebuild a sketch from its JSON form and the summary's count, sum and max; strict."""
        if not isinstance(data, Mapping) or set(data) - {"zeros", "buckets"}:
            raise SketchError("sketch must be an object with only 'zeros' and 'buckets'")
        zeros = data.get("zeros", 0)
        buckets = data.get("buckets", {})
        if not isinstance(zeros, int) or isinstance(zeros, bool) or zeros < 0:
            raise SketchError("sketch.zeros must be a non-negative integer")
        if not isinstance(buckets, Mapping) or len(buckets) > MAX_BUCKETS:
            raise SketchError(f"sketch.buckets must be an object of at most {MAX_BUCKETS} entries")
        sketch = cls()
        for raw_key, n in buckets.items():
            try:
                key = int(raw_key)
            except (TypeError, ValueError):
                raise SketchError("sketch.buckets keys must be integers") from None
            if not -MAX_INDEX <= key <= MAX_INDEX or not isinstance(n, int) or isinstance(n, bool) or n <= 0:
                raise SketchError("sketch.buckets entries must be index (-4096..4096) -> positive count")
            sketch._buckets[key] = n
        sketch.zeros = zeros
        if zeros + sum(sketch._buckets.values()) != count:
            raise SketchError("sketch counts do not add up to the summary's sample count")
        sketch.count = count
        sketch.sum = total
        sketch.max = peak
        return sketch

    @classmethod
    def of(cls, values: Iterable[float]) -> Sketch:
        sketch = cls()
        for v in values:
            sketch.add(v)
        return sketch

    def _collapse(self) -> None:
        keys = sorted(self._buckets)
        extra = len(keys) - MAX_BUCKETS
        if extra <= 0:
            return
        moved = sum(self._buckets.pop(k) for k in keys[: extra + 1])
        first = keys[extra + 1] if extra + 1 < len(keys) else keys[extra]
        self._buckets[first] = self._buckets.get(first, 0) + moved

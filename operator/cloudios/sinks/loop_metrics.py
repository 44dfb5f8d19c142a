"""Prometheus metrics of the closed loop: regressions raised, and estimated vs realized savings.

Registered on the operator's own registry (sinks.metrics.Metrics.registry), once per registry.
Labels are bounded like the other metrics: namespaces, CloudAccount names, the fixed categories,
module names and ISO currency codes; never resource ids or Recommendation names.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal

from prometheus_client import CollectorRegistry, Counter, Gauge

_CENT = Decimal("0.01")
_LOCK = threading.Lock()
_BY_REGISTRY: dict[int, LoopMetrics] = {}

TotalsKey = tuple[str, str, str, str]
"""(account, category, module, currency)."""


class LoopMetrics:
    """The closed loop's series on one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["namespace", "account", "category", "module", "currency"]
        self.regressions = Counter(
            "cloudios_recommendation_regressions",
            "Regressed conditions raised on Applied or Verified Recommendations (CPU saturation, memory "
            "pressure, OOM kills after the change).",
            ["namespace", "module"],
            registry=registry,
        )
        self.realized = Gauge(
            "cloudios_realized_monthly_savings",
            "Monthly savings realized by Verified Recommendations (list-price run rate before minus after).",
            labels,
            registry=registry,
        )
        self.estimated = Gauge(
            "cloudios_verified_estimated_monthly_savings",
            "What the same Verified Recommendations estimated, to compare with the realized savings.",
            labels,
            registry=registry,
        )
        self._keys: dict[str, set[TotalsKey]] = {}
        self._lock = threading.Lock()

    def regressed(self, namespace: str, module: str) -> None:
        self.regressions.labels(namespace, module).inc()

    def set_totals(
        self, namespace: str, estimated: Mapping[TotalsKey, Decimal], realized: Mapping[TotalsKey, Decimal]
    ) -> None:
        """Replace the namespace's totals; series of keys no longer present are removed."""
        with self._lock:
            keys = set(estimated) | set(realized)
            for gone in self._keys.get(namespace, set()) - keys:
                for gauge in (self.realized, self.estimated):
                    with contextlib.suppress(KeyError):
                        gauge.remove(namespace, *gone)
            for key in keys:
                self.estimated.labels(namespace, *key).set(_cents(estimated.get(key, Decimal(0))))
                self.realized.labels(namespace, *key).set(_cents(realized.get(key, Decimal(0))))
            self._keys[namespace] = keys


def _cents(amount: Decimal) -> float:
    return float(amount.quantize(_CENT, ROUND_HALF_EVEN))


def of(registry: CollectorRegistry) -> LoopMetrics:
    """The loop's metrics on ``registry``, registered on first use."""
    with _LOCK:
        found = _BY_REGISTRY.get(id(registry))
        if found is None:
            found = _BY_REGISTRY[id(registry)] = LoopMetrics(registry)
        return found

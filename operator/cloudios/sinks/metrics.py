"""Prometheus metrics of the operator: a registry of their own, plain-value recorders, an HTTP endpoint."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import get_args

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

from cloudios.api.recommendation import RecommendationState
from cloudios.api.webhooks import EVENT_TYPES
from cloudios.domain.enums import Category
from cloudios.domain.scan import SavingsSummary
from cloudios.sinks.operations_metrics import OperationsMetrics, children

CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
STATES: tuple[str, ...] = get_args(RecommendationState)
RETRIES_SUFFIX = ".retries"  # the providers' call counters report extra HTTP attempts under this suffix
# Scans take seconds (a small account) to tens of minutes (many regions; the default timeout is 30 min).
DURATION_BUCKETS: tuple[float, ...] = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)
OTHER = "other"  # label value for anything that does not look like a bounded name
HOURS_PER_MONTH = Decimal(730)  # OpenCost's convention: hourly = monthly / 730
_CENT = Decimal("0.01")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # botocore service names: ec2, cloudwatch, ...
_OPERATION = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,127}$")  # API operation names: DescribeInstances, ...


def _cents(amount: Decimal) -> float:
    """A money amount for a gauge: rounded to the cent first, so the float prints as the cents."""
    return float(amount.quantize(_CENT, ROUND_HALF_EVEN))


def _split_call(key: str) -> tuple[str, str]:
    """'ec2.DescribeInstances' -> ('ec2', 'DescribeInstances'); names that are not bounded -> 'other'."""
    service, _, operation = key.partition(".")
    if not _SERVICE.match(service):
        return OTHER, OTHER
    return service, operation if _OPERATION.match(operation) else OTHER


class Metrics:
    """The operator's metrics on its own ``CollectorRegistry`` (never the process-global one).

    Every label is bounded: namespaces, policy and account names (one series per object the
    cluster holds), the fixed finding categories and Recommendation states, ISO currency codes, and
    cloud API service/operation names. Resource ids and Recommendation names never become labels.
    All methods take plain values and are safe to call from any thread.
    """

    def __init__(self, *, version: str, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.scans = Counter(
            "cloudios_scans",
            "Account scans run by ScanPolicies, by result (success|failure).",
            ["namespace", "policy", "result"],
            registry=r,
        )
        self.scan_duration = Histogram(
            "cloudios_scan_duration_seconds",
            "Duration of one account's scan, from the run's start (including any wait for a scan slot).",
            ["namespace"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "cloudios_scan_last_success_timestamp_seconds",
            "Unix time when an account scan of the policy last finished successfully.",
            ["namespace", "policy"],
            registry=r,
        )
        self.savings = Gauge(
            "cloudios_potential_monthly_savings",
            "Monthly savings of the namespace's open findings, in units of the currency label "
            "(e.g. US dollars), list-price basis.",
            ["namespace", "category", "currency"],
            registry=r,
        )
        self.hourly_savings = Gauge(
            "cloudios_potential_hourly_savings",
            "The monthly savings gauge divided by 730 (OpenCost's hours per month), in units of the "
            "currency label per hour, for joining with OpenCost's hourly cost metrics.",
            ["namespace", "category", "currency"],
            registry=r,
        )
        self.account_savings = Gauge(
            "cloudios_account_potential_monthly_savings",
            "Monthly savings of the CloudAccount's open findings, in units of the currency label.",
            ["namespace", "account", "currency"],
            registry=r,
        )
        self.recommendations = Gauge(
            "cloudios_recommendations",
            "Recommendation objects in the namespace by status.state.",
            ["namespace", "state"],
            registry=r,
        )
        self.api_calls = Counter(
            "cloudios_cloud_api_calls",
            "Logical cloud API calls made by scans (one paginated page is one call), retries excluded.",
            ["provider", "service", "operation"],
            registry=r,
        )
        self.api_retries = Counter(
            "cloudios_cloud_api_retries",
            "Extra HTTP attempts (retries after throttling or transient errors) of cloud API calls.",
            ["provider", "service"],
            registry=r,
        )
        self.account_ready = Gauge(
            "cloudios_account_ready",
            "1 when the CloudAccount's last health check succeeded (Ready=True), else 0.",
            ["namespace", "account"],
            registry=r,
        )
        self.webhook_outbox = Gauge(
            "cloudios_webhook_outbox_depth",
            "Webhook deliveries of the policy waiting in the outbox (pending, including retries).",
            ["namespace", "policy"],
            registry=r,
        )
        self.webhook_dead = Gauge(
            "cloudios_webhook_dead_letters",
            "Webhook deliveries of the policy that ran out of retry time (dead letters kept in the store).",
            ["namespace", "policy"],
            registry=r,
        )
        self.webhook_delivered = Counter(
            "cloudios_webhook_deliveries",
            "Webhook deliveries the receiver accepted (2xx), by event type.",
            ["namespace", "policy", "event"],
            registry=r,
        )
        self.webhook_failed = Counter(
            "cloudios_webhook_attempts_failed",
            "Failed webhook delivery attempts (each retry counts), by event type.",
            ["namespace", "policy", "event"],
            registry=r,
        )
        self.build_info = Gauge(
            "cloudios_build_info",
            "Always 1; the version label names the running build.",
            ["version"],
            registry=r,
        )
        self.build_info.labels(version).set(1)
        self.ops = OperationsMetrics(r)
        if process_metrics:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)
        self._lock = threading.Lock()
        self._last_success: dict[tuple[str, str], float] = {}
        self._currencies: dict[str, set[str]] = {}
        self._opted_out: set[str] = set()

    # -- scans ---------------------------------------------------------------------------------

    def record_scan(
        self,
        namespace: str,
        policy: str,
        *,
        ok: bool,
        duration_seconds: float,
        api_calls: Mapping[str, int],
        finished_at: datetime | None = None,
        provider: str,
        reason: str = "",
    ) -> None:
        """One account's scan under ``policy``. ``api_calls`` are the scan's 'service.Operation'
        counts; keys ending in '.retries' count extra attempts and go to the retries counter.
        ``reason``: why a failed scan failed (a bounded set is kept, see operations_metrics)."""
        for result in ("success", "failure"):  # both series exist, so rate() and ratios work at once
            self.scans.labels(namespace, policy, result)
        self.scans.labels(namespace, policy, "success" if ok else "failure").inc()
        self.scan_duration.labels(namespace).observe(max(0.0, duration_seconds))
        if not ok:
            self.ops.scan_failed(namespace, provider, reason)
        if ok and finished_at is not None:
            self.mark_last_success(namespace, policy, finished_at)
        for key, count in api_calls.items():
            if count <= 0:
                continue
            if key.endswith(RETRIES_SUFFIX):
                service, _ = _split_call(key.removesuffix(RETRIES_SUFFIX))
                self.api_retries.labels(provider, service).inc(count)
            else:
                service, operation = _split_call(key)
                self.api_calls.labels(provider, service, operation).inc(count)

    def mark_last_success(self, namespace: str, policy: str, finished_at: datetime) -> None:
        """Move the policy's last-success time forward (never back: runs may finish out of order)."""
        stamp = finished_at.timestamp()
        with self._lock:
            key = (namespace, policy)
            if stamp <= self._last_success.get(key, float("-inf")):
                return
            self._last_success[key] = stamp
            self.last_success.labels(namespace, policy).set(stamp)

    def last_success_of(self, namespace: str, policy: str) -> float | None:
        with self._lock:
            return self._last_success.get((namespace, policy))

    def forget_policy(self, namespace: str, policy: str) -> None:
        """Drop a deleted policy's series (otherwise its frozen last-success time would alert)."""
        with self._lock:
            self._last_success.pop((namespace, policy), None)
        _remove(self.last_success, namespace, policy)
        for result in ("success", "failure"):
            _remove(self.scans, namespace, policy, result)
        _remove(self.webhook_outbox, namespace, policy)
        _remove(self.webhook_dead, namespace, policy)
        self.ops.forget_policy(namespace, policy)

    # -- webhooks ------------------------------------------------------------------------------

    def record_webhook(self, namespace: str, policy: str, event: str, *, ok: bool) -> None:
        """One delivery attempt; ``event`` is one of the fixed event types (anything else: 'other')."""
        event = event if event in EVENT_TYPES else OTHER
        (self.webhook_delivered if ok else self.webhook_failed).labels(namespace, policy, event).inc()

    def set_webhook_outbox(self, namespace: str, policy: str, *, pending: int, dead: int) -> None:
        self.webhook_outbox.labels(namespace, policy).set(pending)
        self.webhook_dead.labels(namespace, policy).set(dead)

    # -- savings and recommendations -----------------------------------------------------------

    def allow_aggregates(self, namespace: str, *, allowed: bool) -> None:
        """Whether the namespace's savings and recommendation gauges are exported at all; a tenant
        that objects (services.tenant_preferences) loses its series at once and gets no new ones."""
        with self._lock:
            if allowed:
                self._opted_out.discard(namespace)
                return
            self._opted_out.add(namespace)
            currencies = self._currencies.pop(namespace, set())
        for currency in currencies:
            self._remove_savings(namespace, currency)
        for state in STATES:
            _remove(self.recommendations, namespace, state)

    def _exported(self, namespace: str) -> bool:
        with self._lock:
            return namespace not in self._opted_out

    def set_savings(self, namespace: str, totals_by_category: Mapping[str, Decimal], currency: str) -> None:
        """The namespace's open savings per category in ``currency``; categories without findings get
        0, so every (category, currency) series exists. Raises ValueError on an unknown category."""
        if not self._exported(namespace):
            return
        if not _CURRENCY.match(currency):
            raise ValueError(f"currency must be an ISO 4217 code, not {currency!r}")
        unknown = set(totals_by_category) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown finding categories: {sorted(unknown)}")
        with self._lock:
            self._currencies.setdefault(namespace, set()).add(currency)
        for category in CATEGORIES:
            amount = totals_by_category.get(category, Decimal(0))
            self.savings.labels(namespace, category, currency).set(_cents(amount))
            self.hourly_savings.labels(namespace, category, currency).set(float(amount / HOURS_PER_MONTH))

    def replace_savings(
        self,
        namespace: str,
        by_currency: Mapping[str, SavingsSummary],
        *,
        default_currency: str = "USD",
        by_account: Mapping[tuple[str, str], Decimal] | None = None,
    ) -> None:
        """All of the namespace's savings at once: currencies no longer present lose their series;
        ``default_currency`` always has its (possibly zero) series. ``by_account``: (account,
        currency) -> monthly amount; accounts or currencies not in it lose their series."""
        if not self._exported(namespace):
            return
        wanted: dict[str, Mapping[str, Decimal]] = {
            default_currency: {},
            **{currency: summary.by_category for currency, summary in by_currency.items()},
        }
        for currency, totals in wanted.items():
            self.set_savings(namespace, totals, currency)
        with self._lock:
            stale = self._currencies.get(namespace, set()) - set(wanted)
            self._currencies[namespace] = set(wanted)
        for currency in stale:
            self._remove_savings(namespace, currency)
        if by_account is not None:
            self._replace_account_savings(namespace, by_account)

    def _replace_account_savings(self, namespace: str, amounts: Mapping[tuple[str, str], Decimal]) -> None:
        for account, currency in {k[1:] for k in children(self.account_savings) if k[0] == namespace}:
            if (account, currency) not in amounts:
                _remove(self.account_savings, namespace, account, currency)
        for (account, currency), amount in amounts.items():
            if _CURRENCY.match(currency):
                self.account_savings.labels(namespace, account, currency).set(_cents(amount))

    def _remove_savings(self, namespace: str, currency: str) -> None:
        for category in CATEGORIES:
            _remove(self.savings, namespace, category, currency)
            _remove(self.hourly_savings, namespace, category, currency)
        for account, found in {k[1:] for k in children(self.account_savings) if k[0] == namespace}:
            if found == currency:
                _remove(self.account_savings, namespace, account, currency)

    def set_recommendation_states(self, namespace: str, counts: Mapping[str, int]) -> None:
        """Recommendation objects by state; every known state gets a series (0 when none).
        States outside the CRD's enum are ignored."""
        if not self._exported(namespace):
            return
        for state in STATES:
            self.recommendations.labels(namespace, state).set(counts.get(state, 0))

    # -- accounts ------------------------------------------------------------------------------

    def set_account_ready(self, namespace: str, account: str, *, ready: bool) -> None:
        self.account_ready.labels(namespace, account).set(1 if ready else 0)

    def forget_account(self, namespace: str, account: str) -> None:
        """Drop a deleted CloudAccount's series."""
        _remove(self.account_ready, namespace, account)
        for found_ns, found, currency in children(self.account_savings):
            if (found_ns, found) == (namespace, account):
                _remove(self.account_savings, namespace, account, currency)
        self.ops.forget_account(namespace, account)

    # -- exposition ----------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)


def _remove(metric: Counter | Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set: nothing to remove
        metric.remove(*labels)

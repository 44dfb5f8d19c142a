"""A policy's metrics and the namespace's savings gauges: after each scan, after a run, after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudios.domain import Finding, SavingsSummary
from cloudios.services import schedule
from cloudios.services.account_scans import AccountRun
from cloudios.services.context import PolicyRuns
from cloudios.sinks.metrics import Metrics
from cloudios.store.repository import Repository


def record_scan(
    svc: PolicyRuns, policy: str, body: Mapping[str, Any], run: AccountRun, seconds: float
) -> None:
    """One account's scan in the policy's scan metrics (outcome, duration, API calls)."""
    result = run.result
    svc.metrics.record_scan(
        str(body["metadata"]["namespace"]),
        policy,
        ok=run.outcome == "Succeeded",
        duration_seconds=seconds,
        api_calls=result.api_calls if result is not None else {},
        finished_at=result.finished_at if result is not None else None,
        provider=str((body.get("spec") or {}).get("provider") or "unknown"),
        reason=run.reason,
    )


def namespace_savings(store: Repository, namespace: str) -> dict[str, SavingsSummary]:
    """Open findings' monthly savings of the namespace's live accounts, by currency.

    Every open finding counts once, whichever policy found it; the policies' minMonthlySavings and
    Recommendation caps do not apply (findings below a policy's floor are never stored anyway).
    """
    live = {a.name for a in store.accounts(namespace)}
    by_currency: dict[str, list[Finding]] = {}
    for stored in store.findings(namespace):
        money = stored.finding.monthly_savings
        if stored.account_name in live and money is not None:
            by_currency.setdefault(money.currency, []).append(stored.finding)
    return {currency: SavingsSummary.of(found, currency=currency) for currency, found in by_currency.items()}


def account_savings(store: Repository, namespace: str) -> dict[tuple[str, str], Decimal]:
    """Open findings' monthly savings of the namespace's live accounts: (account, currency) -> amount."""
    live = {a.name for a in store.accounts(namespace)}
    totals: dict[tuple[str, str], Decimal] = {}
    for stored in store.findings(namespace):
        money = stored.finding.monthly_savings
        if stored.account_name in live and money is not None:
            key = (stored.account_name, money.currency)
            totals[key] = totals.get(key, Decimal(0)) + money.amount
    return totals


async def refresh_savings(store: Repository, metrics: Metrics, namespace: str) -> None:
    """Set the namespace's savings gauges from the store (after a run, or an account's deletion)."""
    totals = await asyncio.to_thread(namespace_savings, store, namespace)
    by_account = await asyncio.to_thread(account_savings, store, namespace)
    metrics.replace_savings(namespace, totals, by_account=by_account)


def last_success(
    store: Repository, namespace: str, policy: str, status: Mapping[str, Any]
) -> datetime | None:
    """When an account scan of the policy last succeeded: the store's scans (only successful scans are
    recorded), else the status' Succeeded entries (a fresh store after a pod moved)."""
    times = [s.finished_at for s in store.scans(namespace) if s.policy_name == policy]
    times += [
        t
        for entry in status.get("accounts") or []
        if entry.get("outcome") == "Succeeded" and (t := schedule.parse_time(entry.get("lastRunTime")))
    ]
    return max(times, default=None)


def set_schedule(svc: PolicyRuns, namespace: str, name: str, cron: str, next_run: datetime | None) -> None:
    """The policy's next run and its schedule's period, for staleness relative to each schedule."""
    if next_run is None:  # no slot within a year: nothing to be late for
        svc.metrics.ops.forget_policy(namespace, name)
        return
    svc.metrics.ops.set_schedule(
        namespace, name, next_run=next_run, following=schedule.next_after(cron, next_run)
    )


async def seed(svc: PolicyRuns, body: Mapping[str, Any]) -> None:
    """After a restart the gauges come from history, before the next run: the savings from the
    store, and the last success so a staleness alert still fires when every scan since fails."""
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    await refresh_savings(svc.store, svc.metrics, namespace)
    if svc.metrics.last_success_of(namespace, name) is not None:
        return
    status = body.get("status") or {}
    found = await asyncio.to_thread(last_success, svc.store, namespace, name, status)
    if found is not None:
        svc.metrics.mark_last_success(namespace, name, found)

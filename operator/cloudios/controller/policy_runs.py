"""ScanPolicy reconcile: validate, decide which accounts are due, scan them, publish, write status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from cloudios.api import ScanPolicy
from cloudios.controller import account_health, account_scans, recommendation_sync, schedule
from cloudios.controller.account_scans import AccountRun
from cloudios.controller.conditions import Observation
from cloudios.controller.notices import Notice, reference
from cloudios.controller.recommendation_objects import PolicyRef
from cloudios.controller.services import Services
from cloudios.domain import Money, Provider
from cloudios.pipeline.selection import PolicyError, select
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)

KIND = "ScanPolicy"
READY = "Ready"
_INVALID = frozenset({"InvalidSchedule", "InvalidModule", "InvalidSpec"})


@dataclass(frozen=True)
class Validity:
    """A policy that can run, or the Ready=False observation saying why not."""

    policy: ScanPolicy | None
    problem: Observation | None


def validate(body: Mapping[str, Any]) -> Validity:
    """Schema and cron via the pydantic model, modules and settings via pipeline.selection."""
    try:
        policy: ScanPolicy = account_health.parse(body, ScanPolicy)
    except ValidationError as exc:
        bad_cron = any(tuple(e["loc"][:2]) == ("spec", "schedule") for e in exc.errors())
        reason = "InvalidSchedule" if bad_cron else "InvalidSpec"
        message = account_health.validation_message(exc)
        return Validity(None, Observation(READY, "False", reason, f"{message}; fix the ScanPolicy spec."))
    for provider in Provider:
        try:
            select(policy.spec, provider)
        except PolicyError as exc:
            return Validity(None, Observation(READY, "False", "InvalidModule", f"{exc.field}: {exc.message}"))
    return Validity(policy, None)


def modules_of(policy: ScanPolicy, providers: set[str]) -> set[str]:
    return {s.module.name for p in providers for s in select(policy.spec, Provider(p))}


def _time(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


async def _write(
    services: Services, body: Mapping[str, Any], observations: list[Observation], extra: Mapping[str, Any]
) -> list[Notice]:
    return await account_health.write_conditions(services, body, observations, extra, kind=KIND)


async def reconcile(services: Services, body: Mapping[str, Any]) -> list[Notice]:
    """Validate and publish the schedule (create/update/resume); runs happen in ``tick``."""
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    async with services.locks.hold(KIND, namespace, name):
        # The event's body may predate a scheduler tick that already ran and wrote status (the timer
        # can fire before the create handler); decide from the object as it is now, like tick does.
        latest = await asyncio.to_thread(services.kube.get, KIND, namespace, name)
        if latest is None:
            return []
        validity = validate(latest)
        await seed_metrics(services, latest)
        if validity.policy is None:
            assert validity.problem is not None
            return await _write(services, latest, [validity.problem], {})
        return await _publish_schedule(services, latest, validity.policy)


async def _publish_schedule(
    services: Services, body: Mapping[str, Any], policy: ScanPolicy, extra: Mapping[str, Any] | None = None
) -> list[Notice]:
    now = services.clock()
    status = body.get("status") or {}
    next_run = _time(schedule.next_after(policy.spec.schedule, now))
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == READY), None)
    observations = []
    if ready is None or ready.get("reason") in _INVALID:
        observations.append(
            Observation(
                READY,
                "True",
                "Scheduled",
                f"schedule '{policy.spec.schedule}' (UTC); next run at {next_run}.",
            )
        )
    if not observations and not extra and status.get("nextRunTime") == next_run:
        return []
    return await _write(services, body, observations, {**(extra or {}), "nextRunTime": next_run})


async def tick(services: Services, body: Mapping[str, Any]) -> list[Notice]:
    """The scheduler timer: run the accounts that are due (or all, on a new run-now value)."""
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    async with services.locks.hold(KIND, namespace, name):
        latest = await asyncio.to_thread(services.kube.get, KIND, namespace, name)
        if latest is None:
            return []
        validity = validate(latest)
        if validity.policy is None:
            assert validity.problem is not None
            return await _write(services, latest, [validity.problem], {})
        policy = validity.policy
        now = services.clock()
        run_now = schedule.run_now_request(latest["metadata"].get("annotations"))
        previous = {a.get("name"): a for a in (latest.get("status") or {}).get("accounts") or []}
        bodies = await asyncio.to_thread(services.kube.items, "CloudAccount", namespace)
        selected = [
            b for b in bodies if policy.spec.account_selector.matches(b["metadata"].get("labels") or {})
        ]
        runs: dict[str, AccountRun] = {}
        due: list[Mapping[str, Any]] = []
        for account in selected:
            account_name = str(account["metadata"]["name"])
            last = schedule.parse_time((previous.get(account_name) or {}).get("lastRunTime"))
            skipped = account_scans.skip_reason(account)
            if skipped is not None:
                runs[account_name] = AccountRun(
                    account_name, "Skipped", skipped[0], skipped[1], last_run_time=last
                )
            elif run_now is not None or schedule.is_due(policy.spec.schedule, last, now):
                due.append(account)
        if not due and run_now is None:
            # Nothing to scan; still record why accounts are skipped (suspended, not Ready).
            entries = [e.entry() for e in _complete(runs, selected, previous)]
            changed = entries != list(previous.values())
            return await _publish_schedule(
                services, latest, policy, {"accounts": entries} if changed else None
            )
        log.info("policy %s/%s: scanning %d account(s)", namespace, name, len(due))
        timed = await asyncio.gather(*(_timed_scan(services, policy, b, now) for b in due))
        scanned = [run for run, _ in timed]
        notices: list[Notice] = []
        for account_body, (run, seconds) in zip(due, timed, strict=True):
            _record_metrics(services, name, account_body, run, seconds)
            runs[run.name] = run
            notices.extend(await account_scans.record_on_account(services, policy, account_body, run))
        runs = {r.name: r for r in _complete(runs, selected, previous)}
        notices.extend(
            await _publish(
                services,
                latest,
                policy=policy,
                selected=selected,
                runs=runs,
                scanned=scanned,
                now=now,
                run_now=run_now,
            )
        )
        return notices


async def _timed_scan(
    services: Services, policy: ScanPolicy, body: Mapping[str, Any], now: datetime
) -> tuple[AccountRun, float]:
    """The account's run and its seconds (from the run's start, so a wait for a scan slot counts)."""
    began = time.monotonic()
    run = await account_scans.scan_account(services, policy, body, now)
    return run, time.monotonic() - began


def _record_metrics(
    services: Services, policy: str, body: Mapping[str, Any], run: AccountRun, seconds: float
) -> None:
    result = run.result
    services.metrics.record_scan(
        str(body["metadata"]["namespace"]),
        policy,
        ok=run.outcome == "Succeeded",
        duration_seconds=seconds,
        api_calls=result.api_calls if result is not None else {},
        finished_at=result.finished_at if result is not None else None,
        provider=str((body.get("spec") or {}).get("provider") or "unknown"),
    )


def namespace_savings(store: Repository, namespace: str) -> dict[str, dict[str, Decimal]]:
    """Open findings' monthly savings of the namespace's live accounts: currency -> category -> sum.

    Every open finding counts once, whichever policy found it; the policies' minMonthlySavings and
    Recommendation caps do not apply (findings below a policy's floor are never stored anyway).
    """
    live = {a.name for a in store.accounts(namespace)}
    totals: dict[str, dict[str, Decimal]] = {}
    for stored in store.findings(namespace):
        money = stored.finding.monthly_savings
        if stored.account_name not in live or money is None:
            continue
        by_category = totals.setdefault(money.currency, {})
        category = stored.finding.category.value
        by_category[category] = by_category.get(category, Decimal(0)) + money.amount
    return totals


async def refresh_savings(services: Services, namespace: str) -> None:
    """Set the namespace's savings gauges from the store (after a run, or an account's deletion)."""
    totals = await asyncio.to_thread(namespace_savings, services.store, namespace)
    services.metrics.replace_savings(namespace, totals)


def _last_success(
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


async def seed_metrics(services: Services, body: Mapping[str, Any]) -> None:
    """After a restart the gauges come from history, before the next run: the savings from the
    store, and the last success so a staleness alert still fires when every scan since fails."""
    meta = body.get("metadata", {})
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    await refresh_savings(services, namespace)
    if services.metrics.last_success_of(namespace, name) is not None:
        return
    status = body.get("status") or {}
    found = await asyncio.to_thread(_last_success, services.store, namespace, name, status)
    if found is not None:
        services.metrics.mark_last_success(namespace, name, found)


def _complete(
    runs: Mapping[str, AccountRun], selected: Sequence[Mapping[str, Any]], previous: Mapping[Any, Any]
) -> list[AccountRun]:
    """One run per selected account, by name: this tick's, else the last recorded entry."""
    complete = []
    for account in selected:
        account_name = str(account["metadata"]["name"])
        kept = previous.get(account_name) or {"name": account_name, "outcome": "Skipped"}
        complete.append(runs.get(account_name) or _from_entry(kept))
    return sorted(complete, key=lambda r: r.name)


def _from_entry(entry: Mapping[str, Any]) -> AccountRun:
    return AccountRun(
        str(entry.get("name")),
        entry.get("outcome", "Skipped"),
        "",
        str(entry.get("message", "")),
        last_run_time=schedule.parse_time(entry.get("lastRunTime")),
        findings=int(entry.get("findings", 0)),
    )


async def _publish(
    services: Services,
    body: Mapping[str, Any],
    *,
    policy: ScanPolicy,
    selected: Sequence[Mapping[str, Any]],
    runs: Mapping[str, AccountRun],
    scanned: Sequence[AccountRun],
    now: datetime,
    run_now: str | None,
) -> list[Notice]:
    namespace, name = policy.metadata.namespace, policy.metadata.name
    names = sorted(runs)
    providers = {str((b.get("spec") or {}).get("provider")) for b in selected} & {p.value for p in Provider}
    modules = modules_of(policy, providers)
    ref = PolicyRef(namespace, name, str(body["metadata"]["uid"]))
    floor = Decimal(policy.spec.min_monthly_savings)

    def publish() -> tuple[recommendation_sync.SyncReport, list[Any]]:
        found = recommendation_sync.candidates(services.store, namespace, names, modules)
        report = recommendation_sync.sync(
            services.kube, ref, found, cap=policy.spec.max_recommendations, floor=floor
        )
        services.metrics.set_recommendation_states(
            namespace, recommendation_sync.state_counts(services.kube, namespace)
        )
        return report, found

    report, found = await asyncio.to_thread(publish)
    await refresh_savings(services, namespace)
    counts: Counter[str] = Counter()
    by_category: dict[str, Money] = {}
    total = Money.zero()
    for stored in found:
        money = stored.finding.monthly_savings
        if stored.resolved_at is not None or money is None or money.amount < floor:
            continue
        category = stored.finding.category.value
        counts[category] += 1
        by_category[category] = by_category.get(category, Money.zero()) + money
        total = total + money
    failed = [r for r in scanned if r.outcome == "Failed"]
    next_run = _time(schedule.next_after(policy.spec.schedule, now))
    summary = (
        f"scanned {len(scanned) - len(failed)} of {len(scanned)} due account(s); {sum(counts.values())} open "
        f"finding(s) worth {total.rounded()}/month; {report.created} recommendation(s) created, "
        f"{report.updated} updated, {report.deleted} removed; next run at {next_run}."
    )
    if failed:
        detail = "; ".join(f"{r.name}: {r.reason}: {r.message}" for r in failed[:3])
        ready = Observation(READY, "False", "ScanFailed", f"{len(failed)} account(s) failed: {detail}")
    else:
        ready = Observation(READY, "True", "ScanSucceeded", summary)
    status = {
        "lastRunTime": _time(now),
        "nextRunTime": next_run,
        "counts": dict(counts),
        "savingsByCategory": {k: v.rounded().model_dump(mode="json") for k, v in by_category.items()},
        "potentialMonthlySavings": total.rounded().model_dump(mode="json"),
        "accounts": [runs[n].entry() for n in names],
    }
    notices = await _write(services, body, [ready], status)
    notices.append(Notice(reference(body), "Normal", "ScanCompleted", summary))
    if run_now is not None:
        annotations = {schedule.RUN_NOW_HANDLED: run_now}
        await asyncio.to_thread(
            services.kube.patch, KIND, namespace, name, {"metadata": {"annotations": annotations}}
        )
    log.info("policy %s/%s: %s", namespace, name, summary)
    return notices

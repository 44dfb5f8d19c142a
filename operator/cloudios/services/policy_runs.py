"""ScanPolicy reconcile: validate, decide which accounts are due, scan them, publish, write status."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from cloudios.api import ScanPolicy, ScanPolicyStatus, schedules
from cloudios.api.names import CLOUD_ACCOUNT, SCAN_POLICY
from cloudios.api.objects import name_of, parse, status_patch, validation_message
from cloudios.domain import Provider, SavingsSummary, StoredFinding
from cloudios.pipeline.selection import PolicyError, select, selects
from cloudios.services import (
    account_scans,
    closed_loop,
    policy_metrics,
    policy_notifications,
    policy_status,
    policy_verifier,
    schedule,
    tenant_preferences,
)
from cloudios.services.account_scans import AccountRun
from cloudios.services.context import PolicyRuns
from cloudios.services.notifications import Destinations
from cloudios.sinks import recommendation_sync
from cloudios.sinks.conditions import Observation
from cloudios.sinks.notices import Notice, reference
from cloudios.sinks.recommendation_objects import PolicyRef
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)

KIND = SCAN_POLICY
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
        policy = parse(body, ScanPolicy)
    except ValidationError as exc:
        bad_cron = any(tuple(e["loc"][:2]) == ("spec", "schedule") for e in exc.errors())
        reason = "InvalidSchedule" if bad_cron else "InvalidSpec"
        message = validation_message(exc)
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


def _next_run(policy: ScanPolicy, now: datetime) -> datetime | None:
    """The next cron slot; None when there is none within a year (never raises: status must be
    written after a scan whatever the schedule)."""
    found = schedules.next_run(policy.spec.schedule, now)
    return found.replace(microsecond=0) if found is not None else None


def _scheduled_next(svc: PolicyRuns, policy: ScanPolicy, now: datetime) -> datetime | None:
    """The next cron slot, also exported (with the schedule's period) for schedule-relative staleness."""
    found = _next_run(policy, now)
    meta = policy.metadata
    policy_metrics.set_schedule(svc, meta.namespace, meta.name, policy.spec.schedule, found)
    return found


async def _write(
    svc: PolicyRuns, body: Mapping[str, Any], observations: list[Observation], extra: Mapping[str, Any]
) -> list[Notice]:
    return await svc.status.write(body, observations, extra, kind=KIND)


async def reconcile(svc: PolicyRuns, body: Mapping[str, Any]) -> list[Notice]:
    """Validate and publish the schedule (create/update/resume); runs happen in ``tick``."""
    namespace, name = name_of(body)
    async with svc.locks.hold(KIND, namespace, name):
        # The event's body may predate a scheduler tick that already ran and wrote status (the timer
        # can fire before the create handler); decide from the object as it is now, like tick does.
        latest = await asyncio.to_thread(svc.kube.get, KIND, namespace, name)
        if latest is None:
            return []
        validity = validate(latest)
        await policy_metrics.seed(svc, latest)
        if validity.policy is None:
            assert validity.problem is not None
            return await _write(svc, latest, [validity.problem], {})
        webhooks = await policy_notifications.destinations(svc, validity.policy)
        also = [webhooks.observation] if webhooks.observation is not None else []
        return await _publish_schedule(svc, latest, validity.policy, also=also)


async def _publish_schedule(
    svc: PolicyRuns,
    body: Mapping[str, Any],
    policy: ScanPolicy,
    extra: Mapping[str, Any] | None = None,
    *,
    also: Sequence[Observation] = (),
) -> list[Notice]:
    now = svc.clock()
    status = body.get("status") or {}
    found = _scheduled_next(svc, policy, now)
    next_run = _time(found) if found is not None else None
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == READY), None)
    observations = [o for o in also if policy_status.differs(body, o)]
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
    return await _write(svc, body, observations, {**(extra or {}), "nextRunTime": next_run})


async def tick(svc: PolicyRuns, body: Mapping[str, Any]) -> list[Notice]:
    """The scheduler timer: run the accounts that are due (or all, on a new run-now value)."""
    namespace, name = name_of(body)
    async with svc.locks.hold(KIND, namespace, name):
        latest = await asyncio.to_thread(svc.kube.get, KIND, namespace, name)
        if latest is None:
            return []
        validity = validate(latest)
        if validity.policy is None:
            assert validity.problem is not None
            return await _write(svc, latest, [validity.problem], {})
        policy = validity.policy
        webhooks = await policy_notifications.destinations(svc, policy)
        now = svc.clock()
        run_now = schedule.run_now_request(latest["metadata"].get("annotations"))
        previous = {a.get("name"): a for a in (latest.get("status") or {}).get("accounts") or []}
        bodies = await asyncio.to_thread(svc.kube.items, CLOUD_ACCOUNT, namespace)
        selected = [b for b in bodies if selects(policy, namespace, b["metadata"].get("labels"))]
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
        # A run whose publishing failed publishes again, from the store, without rescanning.
        republish = not due and run_now is None and policy_status.needs_publishing(latest)
        if not due and run_now is None and not republish:
            # Nothing to scan; still record why accounts are skipped (suspended, not Ready).
            entries = [_entry(e) for e in _complete(runs, selected, previous)]
            changed = entries != list(previous.values())
            return await _publish_schedule(
                svc,
                latest,
                policy,
                {"accounts": entries} if changed else None,
                also=[policy_status.degraded(runs.values()), *_observed(webhooks)],
            )
        if republish:
            log.info("policy %s/%s: publishing the last run's findings again", namespace, name)
        else:
            log.info("policy %s/%s: scanning %d account(s)", namespace, name, len(due))
        timed = await asyncio.gather(*(_timed_scan(svc, policy, b, now) for b in due))
        scanned = [run for run, _ in timed]
        notices: list[Notice] = []
        for account_body, (run, seconds) in zip(due, timed, strict=True):
            policy_metrics.record_scan(svc, name, account_body, run, seconds)
            runs[run.name] = run
            try:
                notices.extend(await account_scans.record_on_account(svc, policy, account_body, run))
            except Exception as exc:  # noqa: BLE001 - the policy's status below must still be written
                log.warning(
                    "policy %s/%s: recording the scan on CloudAccount %s failed: %s",
                    namespace, name, run.name, policy_status.describe(exc),
                )  # fmt: skip
        left_out = policy_status.not_ready(runs.values())
        ran = [] if republish else list(runs.values())  # this tick's accounts, for the unseen scans
        runs = {r.name: r for r in _complete(runs, selected, previous)}
        notices.extend(
            await _publish(
                svc,
                latest,
                policy=policy,
                selected=selected,
                runs=runs,
                scanned=scanned,
                now=now,
                run_now=run_now,
                skipped=left_out,
                webhooks=webhooks,
                ran=ran,
            )
        )
        return notices


def _observed(webhooks: Destinations) -> list[Observation]:
    return [webhooks.observation] if webhooks.observation is not None else []


def _webhooks_note(webhooks: Destinations) -> str:
    """A green run still says when its webhooks go nowhere (NotificationsReady has the details)."""
    found = webhooks.observation
    if found is None or found.status == "True":
        return ""
    return f" Webhooks are not all sent ({found.reason}): see the NotificationsReady condition."


async def _timed_scan(
    svc: PolicyRuns, policy: ScanPolicy, body: Mapping[str, Any], now: datetime
) -> tuple[AccountRun, float]:
    """The account's run and its seconds (from the run's start, so a wait for a scan slot counts)."""
    began = time.monotonic()
    run = await account_scans.scan_account(svc, policy, body, now)
    return run, time.monotonic() - began


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


def _entry(run: AccountRun) -> dict[str, Any]:
    return run.entry().model_dump(mode="json", by_alias=True, exclude_none=True)


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
    svc: PolicyRuns,
    body: Mapping[str, Any],
    *,
    policy: ScanPolicy,
    selected: Sequence[Mapping[str, Any]],
    runs: Mapping[str, AccountRun],
    scanned: Sequence[AccountRun],
    now: datetime,
    run_now: str | None,
    skipped: Sequence[AccountRun] = (),
    webhooks: Destinations = policy_notifications.NONE,
    ran: Sequence[AccountRun] = (),
) -> list[Notice]:
    namespace, name = policy.metadata.namespace, policy.metadata.name
    names = sorted(runs)
    providers = {str((b.get("spec") or {}).get("provider")) for b in selected} & {p.value for p in Provider}
    modules = modules_of(policy, providers)
    ref = PolicyRef(namespace, name, str(body["metadata"]["uid"]))
    floor = Decimal(policy.spec.min_monthly_savings)

    def publish() -> tuple[recommendation_sync.SyncReport, list[Any]]:
        # An objection to aggregate metrics (the cloudios-tenant ConfigMap) holds before any gauge is set.
        preferences = tenant_preferences.read(svc.kube, namespace)
        svc.metrics.allow_aggregates(namespace, allowed=preferences.aggregate_metrics)
        found = candidates(svc.store, namespace, names, modules)
        report = recommendation_sync.sync(
            svc.kube, ref, found, cap=policy.spec.max_recommendations, floor=floor,
            records=closed_loop.records_after_expiry(svc, ref, policy, found, svc.clock(), ran=ran, run=now),
        )  # fmt: skip
        svc.metrics.set_recommendation_states(
            namespace, recommendation_sync.state_counts(svc.kube, namespace)
        )
        report.loop = closed_loop.publish_totals(svc, ref, allowed=preferences.aggregate_metrics)
        return report, found

    failure: str | None = None
    try:
        report, found = await asyncio.to_thread(publish)
        await policy_metrics.refresh_savings(svc.store, svc.metrics, namespace)
    except Exception as exc:  # noqa: BLE001 - the scans are recorded; say so, and publish next tick
        failure = policy_status.describe(exc)
        log.warning("policy %s/%s: publishing failed: %s", namespace, name, failure)
        report, found = recommendation_sync.SyncReport(), []
    open_findings = [
        f.finding
        for f in found
        if f.resolved_at is None
        and f.finding.monthly_savings is not None
        and f.finding.monthly_savings.amount >= floor
    ]
    savings = SavingsSummary.of(open_findings)
    failed = [r for r in scanned if r.outcome == "Failed"]
    next_run = _scheduled_next(svc, policy, now)
    summary = (
        f"scanned {len(scanned) - len(failed)} of {len(scanned)} due account(s)"
        + (f", {len(skipped)} skipped (not Ready)" if skipped else "")
        + f"; {savings.findings} open "
        f"finding(s) worth {savings.money}/month; {report.created} recommendation(s) created, "
        f"{report.updated} updated, {report.deleted} removed; "
        + (f"next run at {_time(next_run)}." if next_run else "no next run within a year.")
    )
    detail = "; ".join(f"{r.name}: {r.reason}: {r.message}" for r in failed[:3])
    if failure is not None:  # first: it is what makes the next tick publish again
        failures = f" {len(failed)} account(s) failed: {detail}." if failed else ""
        ready = policy_status.publish_failed(summary + failures, failure)
    elif failed:
        ready = Observation(READY, "False", "ScanFailed", f"{len(failed)} account(s) failed: {detail}")
    elif not scanned and skipped:
        ready = policy_status.nothing_scanned(skipped) or Observation(READY, "True", "ScanSucceeded", summary)
    else:
        ready = Observation(READY, "True", "ScanSucceeded", summary + _webhooks_note(webhooks))
    # Publishing again after a failure is not a new run: lastRunTime stays the scans' start.
    last_run = now if scanned or run_now is not None else None
    if last_run is None:
        last_run = schedule.parse_time((body.get("status") or {}).get("lastRunTime")) or now
    status = status_patch(
        ScanPolicyStatus(
            last_run_time=last_run.replace(microsecond=0),
            next_run_time=next_run,
            counts=savings.counts,
            savings_by_category=savings.category_money(),
            potential_monthly_savings=savings.money,
            closed_loop=report.loop,
            accounts=[runs[n].entry() for n in names],
        )
    )
    if failure is None:
        await policy_notifications.announce_run(
            svc, policy, webhooks, run_time=last_run.replace(microsecond=0), runs=[runs[n] for n in names],
            savings=savings, report=report, published=found, failure_message=detail,
        )  # fmt: skip
    observations = [ready, policy_status.degraded(skipped), *_observed(webhooks)]
    notices = [
        *await _write(svc, body, observations, status),
        *await closed_loop.announce(svc, policy, webhooks, report),
        Notice(reference(body), "Normal", "ScanCompleted", summary),
    ]
    if run_now is not None:
        annotations = {schedule.RUN_NOW_HANDLED: run_now}
        await asyncio.to_thread(
            svc.kube.patch, KIND, namespace, name, {"metadata": {"annotations": annotations}}
        )
    log.info("policy %s/%s: %s", namespace, name, summary)
    if failure is None:  # after the run's status: the scan's outcome never waits on the verifier
        notices.extend(await policy_verifier.after_publish(svc, body, policy, found))
    return notices


def candidates(
    store: Repository, tenant: str, accounts: Sequence[str], modules: set[str]
) -> list[StoredFinding]:
    """Stored findings (open and resolved) of the policy's accounts and modules.

    Accounts the store marks deleted are left out: their CloudAccount is being finalized and its
    Recommendations deleted, so a run that started before must not publish them again.
    """
    live = {a.name for a in store.accounts(tenant)}
    found: list[StoredFinding] = []
    for account in (a for a in accounts if a in live):
        found.extend(
            f
            for f in store.findings(tenant, account_name=account, include_resolved=True)
            if f.finding.module in modules
        )
    return found

"""The closed loop at publish time: the loop's records for a policy's findings, and what a publish announces.

The scan (pipeline.closed_loop) records what it saw in the store; the publish derives the
Recommendations' states from those records (sinks.recommendation_objects) and, for each state change
it wrote, appends an audit entry with the evidence hash, posts an Event, counts it in the metrics and
enqueues the webhooks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from cloudios.api import ScanPolicy
from cloudios.api.closed_loop import ClosedLoopSummary
from cloudios.api.names import LABEL_POLICY, RECOMMENDATION, label_value
from cloudios.api.webhooks import PolicyRef as WebhookPolicy
from cloudios.domain import Money, StoredFinding, lifecycle
from cloudios.domain.closed_loop import Baseline, Coverage, LoopRecord
from cloudios.pipeline.closed_loop import evidence_hash
from cloudios.security.audit import AuditEvent, JsonValue
from cloudios.security.redaction import redact
from cloudios.services import notification_events, notifications
from cloudios.services.account_scans import AccountRun
from cloudios.services.audit import AuditTrail
from cloudios.services.context import PolicyRuns
from cloudios.services.notification_events import PendingEvent
from cloudios.services.notifications import Destinations
from cloudios.sinks import loop_metrics
from cloudios.sinks import recommendation_loop as loop
from cloudios.sinks.loop_metrics import TotalsKey
from cloudios.sinks.notices import Notice
from cloudios.sinks.recommendation_loop import Transition
from cloudios.sinks.recommendation_objects import PolicyRef
from cloudios.sinks.recommendation_sync import SyncReport
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)


def records_for(store: Repository, tenant: str, found: Sequence[StoredFinding]) -> dict[str, LoopRecord]:
    """The loop's record of each finding among ``found``, by finding id (each of its own account)."""
    wanted = {(f.account_name, f.finding.id) for f in found}
    records: dict[str, LoopRecord] = {}
    for account in sorted({a for a, _ in wanted}):
        for record in store.outcomes(tenant, account_name=account):
            if (account, record.finding_id) in wanted:
                records[record.finding_id] = record
    return records


OPERATOR = "system:cloudios-operator"
"""The audit actor of the transitions the operator makes itself."""


def _audit(trail: AuditTrail | None, namespace: str, t: Transition, action: str) -> None:
    if trail is None:
        log.info("recommendation %s/%s: %s (no audit log configured)", namespace, t.name, action)
        return
    steps = _steps(t)
    if steps is None:
        log.warning(
            "recommendation %s/%s: %s -> %s is not in the state machine",
            namespace,
            t.name,
            t.previous,
            t.state,
        )
    details: dict[str, JsonValue] = {
        "from": t.previous,
        "to": t.state,
        "triggers": steps,
        "findingId": t.finding_id,
        "evidenceHash": t.evidence_hash,
    }
    trail.append(AuditEvent(namespace, OPERATOR, action, f"recommendations/{t.name}", details))


def _steps(t: Transition) -> list[JsonValue] | None:
    """The state machine's triggers behind a written change (domain.lifecycle); None off the table."""
    try:
        start, end = lifecycle.State(t.previous or "Proposed"), lifecycle.State(t.state)
    except ValueError:
        return None
    found = lifecycle.path(start, end) if start is not end else []
    return None if found is None else [str(x) for x in found]


def _message(t: Transition) -> str:
    record = t.record
    if t.state == "Expired" and record is not None and record.detail:
        return f"expired: {record.detail}"
    if t.state == "Applied" and record is not None and record.applied_at is not None:
        return f"applied: {record.detail} (seen {record.applied_at:%Y-%m-%d %H:%M} UTC)"
    if t.state == "Verified" and record is not None and record.realized is not None:
        realized = record.realized
        money = realized.monthly_savings
        saved = f"{money.amount} {money.currency}/month" if money else f"unknown ({realized.reason})"
        days = realized.post_change_days
        return f"verified after {days} day(s) of data: realized {saved} ({realized.basis})"
    return f"{t.previous or 'new'} -> {t.state}"


async def announce(
    svc: PolicyRuns, policy: ScanPolicy, found: Destinations, report: SyncReport
) -> list[Notice]:
    """Audit every state change the publish wrote, post its Event; Regressed: Event, metric, webhook."""
    namespace = policy.metadata.namespace
    notices: list[Notice] = []
    for t in report.transitions:
        await asyncio.to_thread(_audit, svc.audit, namespace, t, f"lifecycle.{t.state.lower()}")
        if t.state in ("Applied", "Verified", "Expired"):
            notices.append(Notice(t.obj, "Normal", f"Recommendation{t.state}", redact(_message(t))[:1024]))
    events: list[PendingEvent] = []
    for t in report.regressed:
        await asyncio.to_thread(_audit, svc.audit, namespace, t, "lifecycle.regressed")
        record = t.record
        condition = loop.regressed_condition(record)
        message = str(condition["message"]) if condition else "regressed after the change"
        notices.append(Notice(t.obj, "Warning", "RecommendationRegressed", redact(message)[:1024]))
        if record is not None:
            loop_metrics.of(svc.metrics.registry).regressed(namespace, record.module)
            ref = WebhookPolicy(namespace=namespace, name=policy.metadata.name)
            events.append(
                notification_events.recommendation_regressed(
                    ref=ref, name=t.name, state=t.state, record=record, now=svc.clock()
                )
            )
    if events and svc.notifier is not None and found.usable:
        try:
            await asyncio.to_thread(notifications.enqueue, svc.notifier, policy, found.usable, events)
        except Exception:  # the Recommendations are written; a failed announcement does not undo them
            log.exception(
                "policy %s/%s: enqueueing recommendation.regressed failed", namespace, policy.metadata.name
            )
    return notices


def totals(items: Sequence[Mapping[str, Any]]) -> tuple[dict[TotalsKey, Decimal], dict[TotalsKey, Decimal]]:
    """Estimated and realized monthly savings of the Verified objects by (account, category, module,
    currency); an unknown realized saving counts in neither (its estimate is not compared)."""
    estimated: dict[TotalsKey, Decimal] = {}
    realized: dict[TotalsKey, Decimal] = {}
    for item in items:
        spec, status = item.get("spec") or {}, item.get("status") or {}
        got = status.get("realizedMonthlySavings")
        if status.get("state") != "Verified" or not got:
            continue
        key = (
            str((spec.get("accountRef") or {}).get("name", "")),
            str(spec.get("category", "")),
            str(spec.get("module", "")),
            str(got.get("currency", "USD")),
        )
        realized[key] = realized.get(key, Decimal(0)) + Decimal(str(got.get("amount", "0")))
        estimate = (spec.get("monthlySavings") or {}).get("amount")
        estimated[key] = estimated.get(key, Decimal(0)) + Decimal(str(estimate or "0"))
    return estimated, realized


def summary(items: Sequence[Mapping[str, Any]]) -> ClosedLoopSummary | None:
    """The ScanPolicy status' closedLoop from its Recommendation objects; None before anything applied."""
    states = [(i.get("status") or {}) for i in items]
    applied = sum(1 for s in states if s.get("state") == "Applied")
    verified = [s for s in states if s.get("state") == "Verified"]
    regressed = sum(
        1
        for s in states
        if s.get("state") in ("Applied", "Verified")
        and any(
            c.get("type") == loop.REGRESSED and c.get("status") == "True" for c in s.get("conditions") or []
        )
    )
    if not applied and not verified:
        return None
    estimated, realized = totals(items)
    currency = next(iter({k[3] for k in realized}), "USD")
    return ClosedLoopSummary(
        applied=applied,
        verified=len(verified),
        regressed=regressed,
        estimated_monthly_savings=Money(amount=sum(estimated.values(), Decimal(0)), currency=currency),
        realized_monthly_savings=Money(amount=sum(realized.values(), Decimal(0)), currency=currency),
        unknown_realized=sum(1 for s in verified if not s.get("realizedMonthlySavings")),
    )


def publish_totals(svc: PolicyRuns, policy: PolicyRef, *, allowed: bool) -> ClosedLoopSummary | None:
    """Set the namespace's estimated vs realized gauges (unless the tenant objects to aggregate
    metrics); the policy's summary for its status. Blocking: lists the namespace's Recommendations."""
    items = svc.kube.items(RECOMMENDATION, policy.namespace)
    estimated, realized = totals(items) if allowed else ({}, {})
    loop_metrics.of(svc.metrics.registry).set_totals(policy.namespace, estimated, realized)
    mine = [
        i for i in items if (i["metadata"].get("labels") or {}).get(LABEL_POLICY) == label_value(policy.name)
    ]
    return summary(mine)


def expire(
    store: Repository,
    tenant: str,
    found: Sequence[StoredFinding],
    states: Mapping[str, str | None],
    *,
    now: datetime,
    max_age: timedelta,
) -> int:
    """Mark Expired the open findings no scan has confirmed for ``max_age`` whose Recommendation is
    Proposed (``states``: status.state by finding id); the publish then writes and audits the state.
    A later scan that reports the finding again reopens it (pipeline.closed_loop)."""
    records = records_for(store, tenant, found)
    stale: list[LoopRecord] = []
    for stored in found:
        fid = stored.finding.id
        record = records.get(fid)
        if (
            stored.resolved_at is not None
            or stored.last_seen > now - max_age
            or states.get(fid) != "Proposed"
        ):
            continue
        if record is not None and record.state is not None:
            continue
        base = (
            record.baseline
            if record is not None
            else Baseline(finding=stored.finding, recorded_at=stored.first_seen)
        )
        stale.append(
            LoopRecord(
                tenant=tenant,
                account_name=stored.account_name,
                finding_id=fid,
                module=stored.finding.module,
                state="Expired",
                baseline=base,
                expired_at=now,
                detail=f"no scan has confirmed it since {stored.last_seen:%Y-%m-%d %H:%M} UTC "
                f"(more than {max_age.days} days)",
            )
            if record is None
            else record.model_copy(update={"state": "Expired", "expired_at": now})
        )
    return store.save_outcomes(tenant, stale, now=now) if stale else 0


def coverage_of(runs: Sequence[AccountRun]) -> dict[str, Coverage]:
    """What one run scanned of each account it scanned or skipped (accounts not due are absent)."""
    return {
        run.name: run.result.coverage()
        if run.outcome == "Succeeded" and run.result is not None
        else Coverage(reason=f"account {run.name} was {run.outcome.lower()} ({run.reason or 'no reason'})")
        for run in runs
    }


def _unseen(record: LoopRecord, *, state: str | None, gap: str, run: datetime, limit: int,
            now: datetime) -> LoopRecord:  # fmt: skip
    count = lifecycle.unseen_count(record.missing_scans, covered=False)
    update: dict[str, object] = {"missing_scans": count, "unseen_run": run, "unseen_reason": gap}
    if state in ("Proposed", "Approved") and lifecycle.expires_unseen(lifecycle.State(state), count, limit):
        update |= {
            "state": "Expired",
            "expired_at": now,
            "outcome": "Unseen",
            "observed": {"unseenScans": count, "reason": gap},
            "observed_at": now,
            "detail": f"its scope was not fully scanned in {count} consecutive run(s) "
            f"(expireAfterUnseenScans {limit}); the last: {gap}",
        }
    expired = record.model_copy(update=update)
    return (
        expired.model_copy(update={"evidence_hash": evidence_hash(expired)}) if "state" in update else expired
    )


def count_unseen(
    store: Repository,
    tenant: str,
    found: Sequence[StoredFinding],
    states: Mapping[str, str | None],
    coverage: Mapping[str, Coverage],
    *,
    run: datetime,
    limit: int,
    now: datetime,
) -> int:
    """One run's unseen scans (domain.lifecycle): each open finding of an account the run scanned or
    skipped was either fully covered (the count resets) or counts one unseen scan, and ``limit``
    consecutive ones expire a Proposed or Approved Recommendation. ``run`` (the run's start) is kept
    with the count, so a run counts once however often it is published. Returns the records written."""
    records = records_for(store, tenant, found)
    changed: list[LoopRecord] = []
    for stored in found:
        fid, covered = stored.finding.id, coverage.get(stored.account_name)
        record = records.get(fid)
        if covered is None or stored.resolved_at is not None:
            continue
        if record is not None and (record.state is not None or record.unseen_run == run):
            continue  # the loop's own state, or this run already counted
        gap = covered.gap(stored.finding)
        if gap is None:
            if record is not None and record.missing_scans:
                changed.append(
                    record.model_copy(update={"missing_scans": 0, "unseen_run": run, "unseen_reason": ""})
                )
            continue
        base = record or LoopRecord(
            tenant=tenant,
            account_name=stored.account_name,
            finding_id=fid,
            module=stored.finding.module,
            baseline=Baseline(finding=stored.finding, recorded_at=stored.first_seen),
        )
        changed.append(_unseen(base, state=states.get(fid), gap=gap, run=run, limit=limit, now=now))
    return store.save_outcomes(tenant, changed, now=now) if changed else 0


def records_after_expiry(
    svc: PolicyRuns,
    ref: PolicyRef,
    policy: ScanPolicy,
    found: Sequence[StoredFinding],
    now: datetime,
    *,
    ran: Sequence[AccountRun] = (),
    run: datetime | None = None,
) -> dict[str, LoopRecord]:
    """Expire what is stale (spec.closedLoop.expireAfterDays, default the lookback), count this run's
    unseen scans (``ran``: the accounts it scanned or skipped; none when publishing again), then the
    records. Blocking: lists the policy's Recommendations to know which are still Proposed."""
    days = policy.spec.closed_loop.expire_after_days or policy.spec.lookback_days
    objects = svc.kube.items(
        RECOMMENDATION, ref.namespace, label_selector=f"{LABEL_POLICY}={label_value(ref.name)}"
    )
    states = {
        str((o.get("spec") or {}).get("findingId")): (o.get("status") or {}).get("state") for o in objects
    }
    expired = expire(svc.store, ref.namespace, found, states, now=now, max_age=timedelta(days=days))
    if expired:
        log.info(
            "policy %s/%s: %d recommendation(s) expired (stale evidence)", ref.namespace, ref.name, expired
        )
    if ran and run is not None:
        limit = policy.spec.closed_loop.expire_after_unseen_scans
        count_unseen(svc.store, ref.namespace, found, states, coverage_of(ran), run=run, limit=limit, now=now)
    return records_for(svc.store, ref.namespace, found)

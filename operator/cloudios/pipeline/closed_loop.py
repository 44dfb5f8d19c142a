"""The closed loop inside a scan: keep baselines, see proposals carried out, verify savings, catch harm.

Runs after an account's inventory is collected and before the scan's findings are stored (so the
open findings of the previous scan are still known). What it concludes goes to the store's
recommendation_outcomes rows; the Recommendation status is derived from them when the policy
publishes (sinks.recommendation_objects), which is also where transitions are audited. A repeated
scan over the same inventory concludes the same and writes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cloudios.api import ScanPolicy
from cloudios.domain import Finding, Money, Snapshot, StoredFinding, Usage
from cloudios.domain.closed_loop import Baseline, LoopRecord, Realized
from cloudios.domain.resource import ELB
from cloudios.modules import outcomes
from cloudios.modules.base import MetricNeed
from cloudios.pricing import PriceBook, run_rate
from cloudios.security.canonical import canonical_json
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)

DEFAULT_VERIFICATION_DAYS = 7


@dataclass(frozen=True)
class LoopSettings:
    """The policy's spec.closedLoop, resolved (api.scanpolicy.ClosedLoop documents each field)."""

    verification_days: int = DEFAULT_VERIFICATION_DAYS
    verification_days_by_module: Mapping[str, int] = field(default_factory=dict)
    thresholds: outcomes.Thresholds = field(default_factory=outcomes.Thresholds)

    def window(self, module: str) -> int:
        return self.verification_days_by_module.get(module, self.verification_days)


def settings_of(policy: ScanPolicy) -> LoopSettings:
    spec = policy.spec.closed_loop
    return LoopSettings(
        verification_days=spec.verification_days,
        verification_days_by_module=dict(spec.verification_days_by_module),
        thresholds=outcomes.Thresholds(
            cpu_saturation_percent=spec.cpu_saturation_percent,
            memory_pressure_percent=spec.memory_pressure_percent,
            lb_error_percent=spec.lb_error_percent,
            lb_error_growth=spec.lb_error_growth,
        ),
    )


def probe_needs(
    store: Repository, *, tenant: str, account_name: str, modules: Sequence[str]
) -> tuple[frozenset[str], tuple[MetricNeed, ...]]:
    """Resource kinds and metrics the regression probes read beyond the selected modules' own: the load
    balancers and their request and 5xx counts, only while a carried-out change of a module watching
    load-balancer errors (an EC2 resize) is followed. Nothing otherwise, so a scan without one costs
    no DescribeLoadBalancers, target health or CloudWatch query more."""
    followed = any(
        r.state in ("Applied", "Verified")
        and r.module in modules
        and outcomes.LB_ERRORS in outcomes.signals_watched(r.module)
        for r in store.outcomes(tenant, account_name=account_name)
    )
    if not followed:
        return frozenset(), ()
    return frozenset({ELB}), tuple(MetricNeed(ELB, m) for m in outcomes.LB_ERROR_METRICS)


def evidence_hash(record: LoopRecord) -> str:
    """sha256 of the canonical JSON of what a transition rests on (observation, regressions, realized)."""
    evidence = {
        "findingId": record.finding_id,
        "outcome": record.outcome,
        "observed": record.observed,
        "regressions": record.regressions,
        "realized": record.realized.model_dump(mode="json") if record.realized is not None else None,
        "baselineEvidence": record.baseline.finding.evidence,
    }
    return hashlib.sha256(canonical_json(_decimal_strings(evidence))).hexdigest()


def _decimal_strings(value: object) -> object:
    """Canonical JSON refuses floats (security.canonical): metric values become their decimal text."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _decimal_strings(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimal_strings(v) for v in value]
    return value


def baseline(finding: Finding, book: PriceBook, now: datetime) -> Baseline:
    rate = run_rate.run_rate(finding.current_usage, book) if finding.current_usage else None
    return Baseline(
        finding=finding,
        recorded_at=now,
        run_rate=rate.money.rounded() if rate is not None and rate.money is not None else None,
        run_rate_basis=rate.basis if rate is not None else run_rate.basis_of(book),
        unpriced_reason=(rate.reason if rate is not None else "the finding names no billed usage"),
    )


def _post_change_days(finding: Finding, snapshot: Snapshot, applied_at: datetime) -> int:
    """Whole days of post-change data: metric days after the change, else (removals) days elapsed."""
    # A workload's usage is measured per container (``<workload id>/<container>``).
    prefix = f"{finding.resource_id}/"
    series = [
        summary
        for rid, by_metric in snapshot.metrics.items()
        if rid == finding.resource_id or rid.startswith(prefix)
        for summary in by_metric.values()
    ]
    days = {d.day for s in series for d in s.daily if d.samples and d.day > applied_at.date()}
    if days or finding.action not in outcomes.REMOVALS:
        return len(days)
    return max(0, (snapshot.collected_at - applied_at).days)


def _after_usage(finding: Finding) -> tuple[Usage, ...]:
    return () if finding.action in outcomes.REMOVALS else finding.proposed_usage


def _observe(record: LoopRecord, snapshot: Snapshot, now: datetime) -> LoopRecord:
    """An open proposal against the inventory: Applied, or the outcome noted."""
    finding = record.baseline.finding
    seen = outcomes.observe(finding, snapshot)
    if seen is None:
        return record
    update: dict[str, object] = {
        "outcome": seen.outcome.value,
        "observed": seen.observed,
        "detail": seen.detail,
    }
    if seen.outcome is outcomes.Outcome.APPLIED:
        update |= {"state": "Applied", "applied_at": now, "observed_at": now}
    elif record.outcome != seen.outcome.value or record.observed != seen.observed:
        update["observed_at"] = now
    return record.model_copy(update=update)


def _realized(finding: Finding, snapshot: Snapshot, book: PriceBook, days: int) -> Realized:
    """Before minus after at one book's prices, if the resource still matches the proposal: a change
    undone before verification realized nothing; one changed again, not as proposed, is unknown."""
    seen = outcomes.observe(finding, snapshot)
    if seen is not None and seen.outcome is outcomes.Outcome.UNCHANGED:
        return Realized(
            monthly_savings=Money.zero(book.currency),
            basis=run_rate.basis_of(book),
            reason=f"the change was undone before its verification window ended ({seen.detail})",
            post_change_days=days,
        )
    if seen is not None and seen.outcome is not outcomes.Outcome.APPLIED:
        return Realized(
            monthly_savings=None,
            basis=run_rate.basis_of(book),
            reason=f"the resource no longer matches the proposal ({seen.detail})",
            post_change_days=days,
        )
    result = run_rate.realized(finding.current_usage, _after_usage(finding), book)
    return Realized(
        monthly_savings=result.money.rounded() if result.money is not None else None,
        basis=result.basis,
        reason=result.reason,
        post_change_days=days,
    )


def _follow_applied(
    record: LoopRecord, snapshot: Snapshot, book: PriceBook, settings: LoopSettings, now: datetime
) -> LoopRecord:
    """Regressions of a carried-out change, and its verification once the window has passed."""
    finding = record.baseline.finding
    assert record.applied_at is not None
    found = outcomes.regressions(finding, snapshot, since=record.applied_at, thresholds=settings.thresholds)
    update: dict[str, object] = {}
    if found and found != record.regressions:
        update |= {"regressions": found, "regressed_at": record.regressed_at or now}
    if record.state == "Applied":
        days = _post_change_days(finding, snapshot, record.applied_at)
        if days >= settings.window(finding.module):
            update |= {
                "state": "Verified",
                "verified_at": now,
                "realized": _realized(finding, snapshot, book, days),
            }
    return record.model_copy(update=update) if update else record


@dataclass
class LoopReport:
    """What one scan changed in the loop (for logs and tests)."""

    applied: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    regressed: list[str] = field(default_factory=list)
    written: int = 0


@dataclass
class _Pass:
    """One scan's pass over an account's records: the stored ones and those this pass changed."""

    tenant: str
    account_name: str
    records: dict[str, LoopRecord]
    modules: Sequence[str]
    regions: Sequence[str] | None
    changed: dict[str, LoopRecord] = field(default_factory=dict)

    def in_scope(self, finding: Finding) -> bool:
        return finding.module in self.modules and (self.regions is None or finding.region in self.regions)

    def get(self, finding_id: str) -> LoopRecord | None:
        return self.changed.get(finding_id) or self.records.get(finding_id)

    def new(self, finding: Finding, base: Baseline) -> LoopRecord:
        return LoopRecord(
            tenant=self.tenant,
            account_name=self.account_name,
            finding_id=finding.id,
            module=finding.module,
            baseline=base,
        )


def _observe_open(p: _Pass, *, previous: Sequence[StoredFinding], snapshot: Snapshot, book: PriceBook,
                  now: datetime, report: LoopReport) -> None:  # fmt: skip
    """The previous scan's open proposals against this inventory."""
    for stored in previous:
        finding = stored.finding
        if not p.in_scope(finding) or not outcomes.covered(finding.module):
            continue
        record = p.get(finding.id) or p.new(finding, baseline(finding, book, stored.first_seen))
        if record.state is not None:
            continue
        seen = _observe(record, snapshot, now)
        if seen != record:
            p.changed[finding.id] = seen
            if seen.state == "Applied":
                report.applied.append(finding.id)


def _keep_baselines(p: _Pass, published: Sequence[Finding], book: PriceBook, now: datetime) -> None:
    """This scan's proposals become the baselines, unless their change was already carried out."""
    for finding in published:
        record = p.get(finding.id)
        if record is not None and record.state == "Expired":
            # Seen again: the expired proposal is open again, with fresh evidence (lifecycle: reopen).
            reopened: dict[str, object] = {
                "state": None,
                "expired_at": None,
                "missing_scans": 0,
                "unseen_reason": "",
                "baseline": baseline(finding, book, now),
            }
            if record.outcome == "Unseen":
                reopened |= {"outcome": None, "observed": {}, "observed_at": None, "detail": ""}
            p.changed[finding.id] = record.model_copy(update=reopened)
            continue
        if record is not None and record.state is not None:
            continue  # carried out: the baseline stays the one the change was made from
        if record is None or record.baseline.finding != finding:
            fresh = baseline(finding, book, now)
            p.changed[finding.id] = (
                record.model_copy(update={"baseline": fresh}) if record is not None else p.new(finding, fresh)
            )


def _follow_changes(p: _Pass, *, snapshot: Snapshot, book: PriceBook, settings: LoopSettings, now: datetime,
                    report: LoopReport) -> None:  # fmt: skip
    """Carried-out changes: regressions, and verification once their window has passed."""
    for fid, record in {**p.records, **p.changed}.items():
        if record.state not in ("Applied", "Verified") or not p.in_scope(record.baseline.finding):
            continue
        followed = _follow_applied(record, snapshot, book, settings, now)
        if followed == record:
            continue
        if followed.state == "Verified" and record.state == "Applied":
            report.verified.append(fid)
        if followed.regressions and not record.regressions:
            report.regressed.append(fid)
        p.changed[fid] = followed


def follow(
    store: Repository,
    *,
    tenant: str,
    account_name: str,
    snapshot: Snapshot,
    previous: Sequence[StoredFinding],
    published: Sequence[Finding],
    book: PriceBook,
    settings: LoopSettings,
    now: datetime,
    modules: Sequence[str],
    regions: Sequence[str] | None,
) -> LoopReport:
    """Update the account's loop records from this scan; ``previous``: its open findings before it."""
    records = {r.finding_id: r for r in store.outcomes(tenant, account_name=account_name)}
    p = _Pass(tenant, account_name, records, modules, regions)
    report = LoopReport()
    _observe_open(p, previous=previous, snapshot=snapshot, book=book, now=now, report=report)
    _keep_baselines(p, published, book, now)
    _follow_changes(p, snapshot=snapshot, book=book, settings=settings, now=now, report=report)
    hashed = [r.model_copy(update={"evidence_hash": evidence_hash(r)}) for r in p.changed.values()]
    report.written = store.save_outcomes(tenant, hashed, now=now) if hashed else 0
    if report.applied or report.verified or report.regressed:
        log.info(
            "closed loop %s/%s: %d applied, %d verified, %d regressed",
            tenant, account_name, len(report.applied), len(report.verified), len(report.regressed),
        )  # fmt: skip
    return report

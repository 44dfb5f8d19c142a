"""pipeline.scan: the one place that sequences a scan's I/O — collect, evaluate, price, dedupe, store."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from cloudios import pricing
from cloudios.api import CloudAccount, ScanPolicy
from cloudios.api.cloudaccount import CloudAccountSpec
from cloudios.domain import Finding, SavingsSummary, ScanRecord, Snapshot
from cloudios.domain.closed_loop import Coverage
from cloudios.pipeline import closed_loop
from cloudios.pipeline.dedupe import dedupe
from cloudios.pipeline.selection import Selected, select
from cloudios.providers import registry as providers
from cloudios.providers.base import AgentReports, CollectRequest, Credentials, ProviderError, Shard
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)


@dataclass
class ScanOutcome:
    """Everything one (account, policy) scan produced: the store's record plus what only callers need."""

    record: ScanRecord
    findings: list[Finding]
    """Published findings, priced first; unpriced ones (``monthly_savings`` None) carry their reason."""
    unpriced: list[Finding] = field(default_factory=list)
    """The published findings whose saving is unknown (also in ``findings``)."""
    below_threshold: int = 0
    resource_counts: dict[str, int] = field(default_factory=dict)
    """Inventoried resources by kind (``ec2.instance`` -> n)."""
    warnings: list[str] = field(default_factory=list)
    failed_modules: tuple[str, ...] = ()
    """Selected modules that raised: their earlier findings are neither resolved nor confirmed."""
    regions: tuple[str, ...] | None = None
    """The regions the scan covered (None: the whole account); findings elsewhere were not seen."""

    def coverage(self) -> Coverage:
        """What this scan covered, for the unseen-scan count (domain.lifecycle)."""
        return Coverage(
            modules=frozenset(self.record.modules),
            regions=frozenset(self.regions) if self.regions is not None else None,
            failed=frozenset(self.failed_modules),
        )

    @property
    def tenant(self) -> str:
        return self.record.tenant

    @property
    def account_name(self) -> str:
        return self.record.account_name

    @property
    def resources(self) -> int:
        return self.record.resources

    @property
    def api_calls(self) -> dict[str, int]:
        return self.record.api_calls

    @property
    def finished_at(self) -> datetime:
        return self.record.finished_at

    def savings(self) -> SavingsSummary:
        """The published findings' savings (unpriced ones counted apart)."""
        return SavingsSummary.of(self.findings)


def _evaluate(
    selected: list[Selected], snapshot: Snapshot, warnings: list[str], failed: list[str]
) -> list[Finding]:
    findings: list[Finding] = []
    for item in selected:
        try:
            findings.extend(item.module.run(snapshot, item.settings))
        except Exception:
            # A module bug must not cost the user the other modules' findings (nor resolve its own).
            log.exception("module %s failed", item.module.name)
            warnings.append(f"module {item.module.name} failed; its findings are missing from this scan")
            failed.append(item.module.name)
    return findings


def covered_regions(account: CloudAccountSpec, scope: Shard | None) -> tuple[str, ...] | None:
    """The regions a scan of ``account`` (or of one shard) covers; None when its shards name none
    (the whole account, e.g. a GCP project or a cluster)."""
    shards = [scope] if scope is not None else providers.get(account.provider).shards(account)
    if not shards or any(not s.scope for s in shards):
        return None
    return tuple(sorted({r for s in shards for r in s.scope}))


def scan(
    account: CloudAccount,
    policy: ScanPolicy,
    *,
    now: datetime | None = None,
    credentials: Credentials | None = None,
    store: Repository | None = None,
    price_book: pricing.PriceBook | None = None,
    agent_reports: AgentReports | None = None,
    scope: Shard | None = None,
    record_id: str | None = None,
) -> ScanOutcome:
    """Scan one account (or one ``scope`` shard of it) under one policy.

    Raises PolicyError or ProviderError on unusable input. With ``store`` the scan is recorded; a
    shard's scan resolves only earlier findings inside the shard's scope.
    """
    started = now or datetime.now(UTC)
    tenant = account.metadata.namespace
    provider = providers.get(account.spec.provider)
    selected = select(policy.spec, account.spec.provider)
    probe_kinds, probe_metrics = (
        closed_loop.probe_needs(
            store,
            tenant=tenant,
            account_name=account.metadata.name,
            modules=[s.module.spec.name for s in selected],
        )
        if store is not None
        else (frozenset(), ())
    )
    base_metrics = tuple(dict.fromkeys(m for s in selected for m in s.module.spec.metrics))
    request = CollectRequest(
        tenant=tenant,
        account_name=account.metadata.name,
        account=scope.account if scope is not None else account.spec,
        lookback_days=policy.spec.lookback_days,
        kinds=frozenset(k for s in selected for k in s.module.spec.resource_kinds) | probe_kinds,
        metrics=tuple(dict.fromkeys([*base_metrics, *probe_metrics])),
        end=started,
        credentials=credentials,
        agent_reports=agent_reports,
    )
    log.debug(
        "scanning %s/%s with ScanPolicy %s: %d module(s), %d resource kind(s), %d-day lookback",
        tenant, account.metadata.name, policy.metadata.name, len(selected), len(request.kinds),
        request.lookback_days,
    )  # fmt: skip
    try:
        collected = provider.collect(request)
    except ProviderError as exc:
        if not probe_kinds or exc.reason != "PermissionDenied" or "elasticloadbalancing:" not in exc.message:
            raise
        # A role without the ELB describe calls (granted before the load-balancer error signal): the
        # scan goes on without it rather than fail, and says so.
        collected = provider.collect(
            replace(request, kinds=request.kinds - probe_kinds, metrics=base_metrics)
        )
        collected.warnings.append(
            "the load balancers in front of resized instances could not be read (" + exc.message[:200] + "); "
            "their 5xx errors are not watched for regressions in this scan"
        )
    log.debug(
        "collected %s/%s: %d resource(s), API calls %s",
        tenant, account.metadata.name, len(collected.snapshot.resources), dict(collected.api_calls),
    )  # fmt: skip
    warnings = list(collected.warnings)
    failed: list[str] = []
    raw = _evaluate(selected, collected.snapshot, warnings, failed)

    book = price_book if price_book is not None else provider.price_book()
    priced: list[Finding] = []
    for finding in raw:
        amount = pricing.savings(finding, book)
        if amount is None:
            # Unknown price: published with its reason, never dropped nor guessed.
            reason = pricing.unpriced_reason(finding, book)
            priced.append(finding.model_copy(update={"unpriced_reason": reason}))
            continue
        priced.append(finding.model_copy(update={"monthly_savings": amount.rounded(), "price_basis": "list"}))
    kept = dedupe(priced)
    floor = Decimal(policy.spec.min_monthly_savings)
    # A finding that saves nothing is not a recommendation, whatever the policy's floor; an unpriced
    # one cannot be held to the floor and is published (ranked after the priced ones by dedupe).
    published = [
        f
        for f in kept
        if f.monthly_savings is None or (f.monthly_savings.amount > 0 and f.monthly_savings.amount >= floor)
    ]
    unpriced = [f for f in published if f.monthly_savings is None]
    if unpriced:
        warnings.append(
            f"{len(unpriced)} finding(s) published without a saving (no list price): "
            + ", ".join(sorted({f"{f.resource_type} in {f.region}" for f in unpriced}))
        )
    record = ScanRecord(
        id=record_id or str(uuid.uuid4()),
        tenant=tenant,
        account_name=account.metadata.name,
        policy_name=policy.metadata.name,
        provider=account.spec.provider.value,
        account_id=account.spec.account_id,
        started_at=started,
        finished_at=datetime.now(UTC),
        # Only the modules that ran to completion: a failed one says nothing of its earlier findings.
        modules=tuple(s.module.name for s in selected if s.module.name not in failed),
        api_calls=dict(collected.api_calls),
        resources=len(collected.snapshot.resources),
    )
    outcome = ScanOutcome(
        record=record,
        findings=published,
        unpriced=unpriced,
        below_threshold=len(kept) - len(published),
        resource_counts=dict(sorted(Counter(r.kind for r in collected.snapshot.resources).items())),
        warnings=warnings,
        failed_modules=tuple(failed),
        regions=covered_regions(account.spec, scope),
    )
    if store is not None:
        regions = outcome.regions
        _follow(store, outcome, collected.snapshot, book, policy, regions=regions)
        store.record_scan(record, outcome.findings, regions=regions)
    return outcome


def _follow(
    store: Repository,
    outcome: ScanOutcome,
    snapshot: Snapshot,
    book: pricing.PriceBook,
    policy: ScanPolicy,
    *,
    regions: Sequence[str] | None,
) -> None:
    """The closed loop over this scan's inventory, before its findings replace the previous ones."""
    try:
        closed_loop.follow(
            store,
            tenant=outcome.tenant,
            account_name=outcome.account_name,
            snapshot=snapshot,
            previous=store.findings(outcome.tenant, account_name=outcome.account_name),
            published=outcome.findings,
            book=book,
            settings=closed_loop.settings_of(policy),
            now=outcome.record.started_at,
            modules=outcome.record.modules,
            regions=regions,
        )
    except Exception:
        # A loop bug must not cost the user the scan; the next scan observes again.
        log.exception("closed loop of %s/%s failed", outcome.tenant, outcome.account_name)
        outcome.warnings.append("following published recommendations failed; the next scan tries again")

"""pipeline.scan: the one place that sequences a scan's I/O — collect, evaluate, price, dedupe, store."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from cloudios import pricing
from cloudios.api import CloudAccount, ScanPolicy
from cloudios.domain import Finding, Money, Snapshot
from cloudios.pipeline.dedupe import dedupe
from cloudios.pipeline.selection import Selected, select
from cloudios.pricing import aws as aws_pricing
from cloudios.providers import registry as providers
from cloudios.providers.base import AwsBaseCredentials, CollectRequest
from cloudios.store.repository import Repository, ScanRecord

log = logging.getLogger(__name__)


@dataclass
class ScanOutcome:
    """Everything one (account, policy) scan produced."""

    scan_id: str
    tenant: str
    account_name: str
    policy_name: str
    provider: str
    account_id: str
    started_at: datetime
    finished_at: datetime
    modules: list[str]
    findings: list[Finding]
    unpriced: list[Finding] = field(default_factory=list)
    below_threshold: int = 0
    resources: int = 0
    resource_counts: dict[str, int] = field(default_factory=dict)
    """Inventoried resources by kind (``ec2.instance`` -> n)."""
    api_calls: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def record(self, scan_id: str | None = None) -> ScanRecord:
        """The store's record of this scan (under another id for a shard of a larger run)."""
        return ScanRecord(
            id=scan_id or self.scan_id,
            tenant=self.tenant,
            account_name=self.account_name,
            policy_name=self.policy_name,
            provider=self.provider,
            account_id=self.account_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
            modules=tuple(self.modules),
            api_calls=dict(self.api_calls),
            resources=self.resources,
        )

    @property
    def total_monthly_savings(self) -> Money:
        total = Money.zero()
        for f in self.findings:
            if f.monthly_savings is not None:
                total = total + f.monthly_savings
        return total


def _evaluate(selected: list[Selected], snapshot: Snapshot, warnings: list[str]) -> list[Finding]:
    findings: list[Finding] = []
    for item in selected:
        try:
            findings.extend(item.module.run(snapshot, item.settings))
        except Exception:
            # A module bug must not cost the user the other modules' findings.
            log.exception("module %s failed", item.module.name)
            warnings.append(f"module {item.module.name} failed; its findings are missing from this scan")
    return findings


def scan(
    account: CloudAccount,
    policy: ScanPolicy,
    *,
    now: datetime | None = None,
    base_credentials: AwsBaseCredentials | None = None,
    store: Repository | None = None,
    price_book: pricing.PriceBook | None = None,
) -> ScanOutcome:
    """Scan one account under one policy. Raises PolicyError or ProviderError on unusable input."""
    started = now or datetime.now(UTC)
    tenant = account.metadata.namespace
    selected = select(policy.spec, account.spec.provider)
    request = CollectRequest(
        tenant=tenant,
        account_name=account.metadata.name,
        account=account.spec,
        lookback_days=policy.spec.lookback_days,
        kinds=frozenset(k for s in selected for k in s.module.spec.resource_kinds),
        metrics=tuple(dict.fromkeys(m for s in selected for m in s.module.spec.metrics)),
        end=started,
        base_credentials=base_credentials,
    )
    collected = providers.collect(request)
    warnings = list(collected.warnings)
    raw = _evaluate(selected, collected.snapshot, warnings)

    # Issue 7: the default becomes the account's provider.price_book(); AWS is the only priced cloud yet.
    book = price_book if price_book is not None else aws_pricing.bundled()
    priced: list[Finding] = []
    unpriced: list[Finding] = []
    for finding in raw:
        amount = pricing.savings(finding, book)
        if amount is None:
            unpriced.append(finding)
            continue
        priced.append(finding.model_copy(update={"monthly_savings": amount.rounded(), "price_basis": "list"}))
    kept = dedupe(priced)
    floor = Decimal(policy.spec.min_monthly_savings)
    # A finding that saves nothing is not a recommendation, whatever the policy's floor.
    published = [
        f
        for f in kept
        if f.monthly_savings is not None
        and f.monthly_savings.amount > 0
        and f.monthly_savings.amount >= floor
    ]
    if unpriced:
        warnings.append(
            f"{len(unpriced)} finding(s) could not be priced from the bundled price snapshot: "
            + ", ".join(sorted({f"{f.resource_type} in {f.region}" for f in unpriced}))
        )
    outcome = ScanOutcome(
        scan_id=str(uuid.uuid4()),
        tenant=tenant,
        account_name=account.metadata.name,
        policy_name=policy.metadata.name,
        provider=account.spec.provider.value,
        account_id=account.spec.account_id,
        started_at=started,
        finished_at=datetime.now(UTC),
        modules=[s.module.name for s in selected],
        findings=published,
        unpriced=unpriced,
        below_threshold=len(kept) - len(published),
        resources=len(collected.snapshot.resources),
        resource_counts=dict(sorted(Counter(r.kind for r in collected.snapshot.resources).items())),
        api_calls=collected.api_calls,
        warnings=warnings,
    )
    if store is not None:
        store.record_scan(outcome.record(), outcome.findings)
    return outcome

"""One finished scan (the store's record) and the one savings summary every output totals with."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from cloudios.domain.finding import Finding
from cloudios.domain.money import Money


@dataclass(frozen=True)
class ScanRecord:
    """One finished scan of one account under one policy."""

    id: str
    tenant: str
    account_name: str
    policy_name: str
    provider: str
    account_id: str
    started_at: datetime
    finished_at: datetime
    modules: tuple[str, ...]
    api_calls: dict[str, int]
    resources: int


@dataclass(frozen=True)
class StoredFinding:
    """A finding with its history: when it was first and last seen, and when it went away."""

    tenant: str
    account_name: str
    finding: Finding
    first_seen: datetime
    last_seen: datetime
    resolved_at: datetime | None
    last_scan_id: str


@dataclass(frozen=True)
class SavingsSummary:
    """Monthly savings of a set of findings: the total, by category, and how many were not priced.

    The one way savings are totalled (CLI report, policy and account status, metrics); every
    finding counts once. Amounts are exact; round when showing them.
    """

    currency: str = "USD"
    total: Decimal = Decimal(0)
    by_category: dict[str, Decimal] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    unpriced: int = 0

    @classmethod
    def of(cls, findings: Iterable[Finding], *, currency: str = "USD") -> SavingsSummary:
        """Sum the priced findings in ``currency``; unpriced ones are counted apart.

        A finding priced in another currency is a programming error (one price book per scan).
        """
        total = Decimal(0)
        by_category: dict[str, Decimal] = {}
        counts: Counter[str] = Counter()
        unpriced = 0
        for finding in findings:
            money = finding.monthly_savings
            if money is None:
                unpriced += 1
                continue
            if money.currency != currency:
                raise ValueError(f"cannot total {money.currency} savings in {currency}")
            category = finding.category.value
            counts[category] += 1
            by_category[category] = by_category.get(category, Decimal(0)) + money.amount
            total += money.amount
        return cls(currency, total, dict(sorted(by_category.items())), dict(sorted(counts.items())), unpriced)

    @property
    def findings(self) -> int:
        """How many priced findings the summary counts."""
        return sum(self.counts.values())

    @property
    def money(self) -> Money:
        """The total, rounded to cents."""
        return Money(amount=self.total, currency=self.currency).rounded()

    def category_money(self) -> dict[str, Money]:
        """Each category's total, rounded to cents."""
        return {k: Money(amount=v, currency=self.currency).rounded() for k, v in self.by_category.items()}

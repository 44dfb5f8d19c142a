"""The CLI's result model: outcomes of every scanned account, rendered to JSON per DESIGN.md section 4."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cloudios.domain import Finding, Money, SavingsSummary
from cloudios.domain.closed_loop import LoopRecord
from cloudios.pipeline.scan import ScanOutcome
from cloudios.security.redaction import redact


@dataclass
class AccountError:
    """An account that could not be scanned, and why (never contains secrets)."""

    file: str
    obj: str
    reason: str
    message: str

    def __post_init__(self) -> None:
        self.message = redact(self.message)  # provider messages can echo request details


@dataclass
class Report:
    """All outcomes and errors of one `cloudios scan`."""

    outcomes: list[ScanOutcome] = field(default_factory=list)
    errors: list[AccountError] = field(default_factory=list)
    loop: list[LoopRecord] = field(default_factory=list)
    """The scanned accounts' Applied and Verified changes from the local store (HTML report only)."""

    @property
    def findings(self) -> list[tuple[ScanOutcome, Finding]]:
        rows = [(o, f) for o in self.outcomes for f in o.findings]
        rows.sort(key=lambda r: (r[1].monthly_savings is None, -_amount(r[1]), r[1].id))
        return rows

    def savings(self) -> SavingsSummary:
        """Every published finding of every account, totalled once (unpriced ones counted apart)."""
        return SavingsSummary.of(f for _, f in self.findings)

    @property
    def total(self) -> Money:
        return Money(amount=self.savings().total)

    def api_calls(self) -> dict[str, int]:
        calls: Counter[str] = Counter()
        for o in self.outcomes:
            calls.update(o.api_calls)
        return dict(sorted(calls.items()))

    def summary(self) -> dict[str, Any]:
        savings = self.savings()
        by_account = {f"{o.tenant}/{o.account_name}": o.savings() for o in self.outcomes}
        return {
            "accounts": len(self.outcomes),
            "resources": sum(o.resources for o in self.outcomes),
            "recommendations": len(self.findings),
            "monthlySavings": _money(savings.total, savings.currency),
            "byCategory": {
                k: {"count": savings.counts[k], "monthlySavings": _money(v, savings.currency)}
                for k, v in savings.by_category.items()
            },
            "byAccount": {k: _money(v.total, v.currency) for k, v in sorted(by_account.items())},
            "unpriced": savings.unpriced,
            "belowThreshold": sum(o.below_threshold for o in self.outcomes),
            "warnings": [redact(w) for o in self.outcomes for w in o.warnings],
            "errors": [
                {"file": e.file, "object": e.obj, "reason": e.reason, "message": e.message}
                for e in self.errors
            ],
        }

    @property
    def unpriced(self) -> list[tuple[ScanOutcome, Finding]]:
        """Findings the price book could not price: published with null savings and the reason."""
        rows = [(o, f) for o in self.outcomes for f in o.unpriced]
        rows.sort(key=lambda r: r[1].id)
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            # Unpriced findings are among the published ones, ranked last, with their reason.
            "recommendations": [recommendation(o, f) for o, f in self.findings],
            "summary": self.summary(),
            "apiCalls": self.api_calls(),
        }


def recommendation(outcome: ScanOutcome, f: Finding) -> dict[str, Any]:
    """One finding in the CLI JSON shape."""
    return {
        "id": f.id,
        "tenant": outcome.tenant,
        "account": outcome.account_name,
        "provider": f.provider.value,
        "accountId": f.account_id,
        "region": f.region,
        "resourceType": f.resource_type,
        "resourceId": f.resource_id,
        "resourceName": f.resource_name,
        "module": f.module,
        "category": f.category.value,
        "action": f.action.value,
        "title": f.title,
        "confidence": f.confidence.value,
        "current": f.current,
        "proposed": f.proposed,
        "monthlySavings": f.monthly_savings.model_dump(mode="json") if f.monthly_savings else None,
        "priceBasis": f.price_basis,
        "unpricedReason": f.unpriced_reason,
        "evidence": f.evidence,
    }


def _amount(f: Finding) -> Decimal:
    return f.monthly_savings.amount if f.monthly_savings else Decimal(0)


def _money(amount: Decimal, currency: str) -> dict[str, str]:
    return Money(amount=amount, currency=currency).rounded().model_dump(mode="json")

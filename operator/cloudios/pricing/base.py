"""The price book contract every cloud's snapshot meets, and the savings arithmetic over it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Protocol

from cloudios.domain import HOURS_PER_MONTH, Finding, Money, Usage


class PriceBook(Protocol):
    """A dated price snapshot of one cloud, in one currency, on one price basis.

    The pipeline prices findings through this alone; a cloud's own tables stay in its package.
    """

    @property
    def provider(self) -> str:
        """The cloud whose prices these are, as in ``CloudAccount.spec.provider``."""
        ...

    @property
    def currency(self) -> str:
        """ISO 4217 code of every amount the book returns."""
        ...

    @property
    def date(self) -> dt.date:
        """When the prices were published (or compiled)."""
        ...

    @property
    def source(self) -> str:
        """Where the prices come from, in words a reader can check."""
        ...

    @property
    def basis(self) -> str:
        """Which prices: ``list`` (on-demand, no discounts)."""
        ...

    def count(self) -> int:
        """How many prices the book holds."""
        ...

    def monthly(self, usage: Usage) -> Money | None:
        """Monthly cost of a usage line, or None when the book has no price for it (never zero)."""
        ...

    def hourly(self, usage: Usage) -> Money | None:
        """Hourly cost of a usage line, or None when the book has no price for it."""
        ...

    def missing(self, usage: Usage) -> str:
        """Why the book has no price for a usage line, in words (for unpriced findings)."""
        ...


def monthly_cost(unit: tuple[Decimal, bool] | None, usage: Usage, currency: str) -> Money | None:
    """A usage line's monthly cost from its (unit price, billed hourly?): hourly prices x 730, x quantity."""
    if unit is None:
        return None
    price, hourly = unit
    per_month = price * HOURS_PER_MONTH if hourly else price
    return Money(amount=per_month * usage.quantity, currency=currency)


def hourly_cost(monthly: Money | None) -> Money | None:
    """The hourly cost behind a monthly one (monthly / 730)."""
    return (
        None if monthly is None else Money(amount=monthly.amount / HOURS_PER_MONTH, currency=monthly.currency)
    )


def savings(finding: Finding, book: PriceBook) -> Money | None:
    """Monthly saving of a finding: current minus proposed usage, at the book's list prices.

    None when the finding carries no current usage or any line is unpriced (the finding is then
    reported as unpriced). A negative difference is returned as zero: modules only propose
    changes they expect to be cheaper, so a zero here means the prices disagree (another region or
    a refreshed book) and the pipeline should drop the finding rather than show a negative saving.
    """
    if not finding.current_usage:
        return None
    total = Money.zero(book.currency)
    for sign, lines in ((1, finding.current_usage), (-1, finding.proposed_usage)):
        for usage in lines:
            monthly = book.monthly(usage)
            if monthly is None:
                return None
            total = total + monthly.times(sign)
    return total if total.amount > 0 else Money.zero(book.currency)


def unpriced_reason(finding: Finding, book: PriceBook) -> str:
    """Why ``savings`` returned None for a finding: the first usage line without a price."""
    if not finding.current_usage:
        return "the finding names no billed usage"
    for usage in (*finding.current_usage, *finding.proposed_usage):
        if book.monthly(usage) is None:
            return book.missing(usage)
    return "every usage line is priced"

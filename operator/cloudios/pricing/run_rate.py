"""A resource's monthly list-price run rate from its usage lines, with the basis that priced it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloudios.domain import Money, Usage
from cloudios.pricing.base import PriceBook


@dataclass(frozen=True)
class RunRate:
    """Monthly cost of some usage lines at one book's prices; ``money`` None with ``reason`` when unknown."""

    money: Money | None
    basis: str
    reason: str | None = None


def basis_of(book: PriceBook) -> str:
    """'list prices of the aws price book dated 2024-12-01': the book every figure of a comparison
    comes from (its full source is in `cloudios prices show`)."""
    return f"{book.basis} prices of the {book.provider} price book dated {book.date.isoformat()}"


def run_rate(lines: Sequence[Usage], book: PriceBook) -> RunRate:
    """Sum of the lines' monthly prices (no lines: zero, the resource costs nothing any more)."""
    total = Money.zero(book.currency)
    for usage in lines:
        monthly = book.monthly(usage)
        if monthly is None:
            return RunRate(None, basis_of(book), book.missing(usage))
        total = total + monthly
    return RunRate(total, basis_of(book))


def realized(before: Sequence[Usage], after: Sequence[Usage], book: PriceBook) -> RunRate:
    """Before minus after, both at ``book``'s prices; unknown (with the reason) if any line is unpriced.

    Unlike an estimate it may be negative: a change that made the resource dearer is reported as such.
    """
    was, now = run_rate(before, book), run_rate(after, book)
    if not before:
        return RunRate(None, basis_of(book), "the baseline names no billed usage")
    for part in (was, now):
        if part.money is None:
            return part
    assert was.money is not None
    assert now.money is not None
    return RunRate(was.money - now.money, basis_of(book))

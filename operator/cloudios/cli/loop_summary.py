"""`kubectl cloudios summary`: estimated vs realized savings of the Verified recommendations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table

from cloudios.cli.terminal import cell
from cloudios.domain.text import printable

DIMENSIONS = ("namespace", "account", "category", "module")


def _decimal(money: Any) -> Decimal | None:
    if not isinstance(money, Mapping) or "amount" not in money:
        return None
    try:
        return Decimal(str(money["amount"]))
    except InvalidOperation:
        return None


def _keys(obj: Mapping[str, Any]) -> dict[str, str]:
    spec = obj.get("spec") or {}
    namespace = str((obj.get("metadata") or {}).get("namespace", "?"))
    account = (spec.get("accountRef") or {}).get("name", "?")
    return {
        "namespace": namespace,
        "account": f"{namespace}/{account}",
        "category": str(spec.get("category", "?")),
        "module": str(spec.get("module", "?")),
    }


def totals(items: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, tuple[Decimal, Decimal]]]:
    """(estimated, realized) per value of each dimension, over Verified objects whose realized saving is
    known; an unknown one (a price is missing) is left out of both columns, never counted as zero."""
    out: dict[str, dict[str, tuple[Decimal, Decimal]]] = {
        d: defaultdict(lambda: (Decimal(0), Decimal(0))) for d in DIMENSIONS
    }
    for obj in items:
        status = obj.get("status") or {}
        realized = _decimal(status.get("realizedMonthlySavings"))
        if status.get("state") != "Verified" or realized is None:
            continue
        estimated = _decimal((obj.get("spec") or {}).get("monthlySavings")) or Decimal(0)
        for dimension, key in _keys(obj).items():
            was_estimated, was_realized = out[dimension][key]
            out[dimension][key] = (was_estimated + estimated, was_realized + realized)
    return {d: dict(rows) for d, rows in out.items()}


def print_loop(console: Console, items: list[Mapping[str, Any]]) -> None:
    """The tables, then how many were applied (not verified yet), unknown and regressed."""
    states = [(o.get("status") or {}) for o in items]
    applied = sum(1 for s in states if s.get("state") == "Applied")
    verified = [s for s in states if s.get("state") == "Verified"]
    regressed = sum(
        1 for s in states if any(c.get("type") == "Regressed" and c.get("status") == "True"
                                 for c in s.get("conditions") or [])
    )  # fmt: skip
    if not applied and not verified:
        return
    found = totals(items)
    for dimension in DIMENSIONS:
        heading = f"Verified savings by {dimension}: estimated vs realized"
        table = Table(title=heading, title_justify="left", min_width=len(heading))
        table.add_column(dimension.capitalize())
        table.add_column("Estimated USD / month", justify="right")
        table.add_column("Realized USD / month", justify="right")
        for key, (estimated, realized) in sorted(found[dimension].items(), key=lambda kv: -kv[1][1]):
            table.add_row(cell(key), f"{estimated:.2f}", f"{realized:.2f}")
        console.print(table)
    estimated = sum((e for e, _ in found["namespace"].values()), Decimal(0))
    realized = sum((r for _, r in found["namespace"].values()), Decimal(0))
    unknown = sum(1 for s in verified if _decimal(s.get("realizedMonthlySavings")) is None)
    console.print(
        f"[bold]Verified: {len(verified)} recommendation(s), estimated {estimated:.2f}, realized "
        f"{realized:.2f} USD per month (list prices)[/]"
        + (f"; {unknown} with an unknown realized saving (a price is missing)" if unknown else "")
    )
    console.print(
        f"Applied, waiting for their verification window: {applied}; regressed after the change: {regressed}"
    )


def describe(status: Mapping[str, Any]) -> list[str]:
    """`kubectl cloudios explain` lines for what the closed loop saw (none before it saw anything)."""
    outcome = status.get("outcome") or {}
    lines: list[str] = []
    if outcome:
        observed = ", ".join(f"{k} {v}" for k, v in (outcome.get("observed") or {}).items())
        lines.append(f"  observed:   {outcome.get('result')}: {observed or outcome.get('detail', '')}")
    if status.get("appliedAt"):
        approved = "after approval" if status.get("approved") else "without approval"
        lines.append(f"  applied:    {status['appliedAt']} ({approved})")
    realized = status.get("realized") or {}
    if realized:
        money = realized.get("monthlySavings") or {}
        saved = (
            f"{money.get('amount')} {money.get('currency')}"
            if money
            else f"unknown ({realized.get('reason')})"
        )
        days, basis = realized.get("postChangeDays"), realized.get("basis")
        lines.append(f"  realized:   {saved} per month over {days} day(s) ({basis})")
    lines.extend(
        f"  regressed:  {c.get('reason')}: {c.get('message')}"
        for c in status.get("conditions") or []
        if c.get("type") == "Regressed" and c.get("status") == "True"
    )
    return [printable(line) for line in lines]

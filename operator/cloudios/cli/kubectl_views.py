"""What `kubectl cloudios` shows of Recommendations: the summary's sums, the list's rows and the
explanation in words, as tables or text for people and as plain data for -o json|yaml."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from cloudios.cli import loop_summary
from cloudios.domain.text import printable

OPEN_STATES = {"Proposed", "Approved", "Applied"}
MANAGED_BY = ("app.kubernetes.io/managed-by", "cloudios")
GROUPS = ("namespace", "account", "category")
CURRENCY = "USD"


def amount(obj: dict[str, Any]) -> Decimal:
    raw = ((obj.get("spec") or {}).get("monthlySavings") or {}).get("amount", "0")
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return Decimal(0)


def published(obj: dict[str, Any]) -> bool:
    """Counted only when the operator published it and wrote its status from its store (status is
    the operator's alone: the webhook refuses anyone else, and the operator replaces foreign states)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    status = obj.get("status") or {}
    confirmed = bool(status.get("state")) and bool(status.get("firstSeen"))
    return labels.get(MANAGED_BY[0]) == MANAGED_BY[1] and confirmed


def _account(spec: dict[str, Any]) -> str:
    account = spec.get("accountRef") or {}
    return str(account.get("name", "?") if isinstance(account, dict) else account)


def summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Open savings by namespace, account and category; money as decimal strings with the currency."""
    groups: dict[str, dict[str, Decimal]] = {group: defaultdict(Decimal) for group in GROUPS}
    total, counted, unconfirmed = Decimal(0), 0, 0
    for obj in items:
        if not published(obj):
            unconfirmed += 1
            continue
        if (obj.get("status") or {}).get("state") not in OPEN_STATES:
            continue
        value, spec = amount(obj), obj.get("spec") or {}
        namespace = str((obj.get("metadata") or {}).get("namespace", "?"))
        total += value
        counted += 1
        groups["namespace"][namespace] += value
        groups["account"][f"{namespace}/{_account(spec)}"] += value
        groups["category"][str(spec.get("category", "?"))] += value

    def money(value: Decimal) -> dict[str, str]:
        return {"amount": f"{value:.2f}", "currency": CURRENCY}

    by = {
        f"by{group.capitalize()}": {
            key: money(value) for key, value in sorted(rows.items(), key=lambda kv: (-kv[1], kv[0]))
        }
        for group, rows in groups.items()
    }
    return {"openRecommendations": counted, "monthlySavings": money(total), **by, "unconfirmed": unconfirmed}


def rows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per Recommendation, largest savings first: what `list` prints and returns."""
    out = []
    for obj in sorted(items, key=lambda o: (-amount(o), str((o.get("metadata") or {}).get("name")))):
        meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
        money = spec.get("monthlySavings") or {}
        out.append(
            {
                "namespace": meta.get("namespace"),
                "name": meta.get("name"),
                "state": status.get("state") if published(obj) else "Unconfirmed",
                "account": _account(spec),
                "module": spec.get("module"),
                "monthlySavings": money or None,
                "title": spec.get("title"),
            }
        )
    return out


def explanation(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as -o json|yaml show it: metadata without the server's bookkeeping, spec, status."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


def describe(obj: dict[str, Any]) -> str:
    """The evidence of a Recommendation in words."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    money = spec.get("monthlySavings") or {}
    lines = [
        f"{spec.get('title', obj['metadata']['name'])}",
        (
            f"  resource:   {spec.get('resourceType')} {spec.get('resourceName') or spec.get('resourceId')} "
            f"in {spec.get('region')} (account {spec.get('accountId')})"
        ),
        f"  module:     {spec.get('module')} ({spec.get('category')}), confidence {spec.get('confidence')}",
        f"  change:     {_pairs(spec.get('current'))} -> {_pairs(spec.get('proposed'))}",
        (
            f"  saves:      {money.get('amount', '?')} {money.get('currency', '')} per month "
            f"at {spec.get('priceBasis', 'list')} prices"
        ),
        f"  state:      {status.get('state', 'Proposed')}",
        *loop_summary.describe(status),
    ]
    evidence = spec.get("evidence") or {}
    # Metric summaries sit under evidence.metrics (one per metric); older objects had them on top.
    metrics = evidence.get("metrics")
    if not isinstance(metrics, dict):
        metrics = {}
    summaries = [m for m in [*metrics.values(), *evidence.values()] if isinstance(m, dict) and "metric" in m]
    lines.extend(
        f"  evidence:   {m['metric']}: average {m.get('average')}, peak {m.get('maximum')}, "
        f"p95 {m.get('p95OfDailyP95')} over {m.get('daysWithData')} of {m.get('lookbackDays')} days"
        for m in summaries
    )
    for key, value in evidence.items():
        if value is None or key == "metrics":
            continue
        if isinstance(value, list):
            if value:
                lines.append(f"  {key}: {'; '.join(map(str, value))}")
        elif isinstance(value, dict):
            if value and "metric" not in value:
                lines.append(f"  {key}: {_pairs(value)}")
        else:
            lines.append(f"  {key}: {value}")
    decision = spec.get("decision") or {}
    if decision:
        lines.append(
            f"  decision:   {decision.get('type')} by {decision.get('decidedBy', '?')} "
            f"at {decision.get('decidedAt', '?')}"
            + (f": {decision['reason']}" if decision.get("reason") else "")
        )
    # Every field is the object's (a decision's reason is typed by a user): no terminal controls.
    return "\n".join(printable(line) for line in lines) + "\n"


def _pairs(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value or "-")

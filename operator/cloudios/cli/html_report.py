"""The self-contained HTML report: a Jinja2 template with autoescaping, so no value becomes markup."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import jinja2

from cloudios.domain.closed_loop import LoopRecord

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cloudios report</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #d0d7de;padding:.3rem .6rem}
th{background:#f6f8fa;text-align:left}.num{text-align:right;font-variant-numeric:tabular-nums}
.total{font-size:1.4rem}
</style></head><body>
<h1>Cloudios report</h1>
{%- set total = summary.monthlySavings %}
<p class="total">Potential savings: <strong>{{ total.amount }} {{ total.currency }}</strong> per month
(list prices) across {{ summary.recommendations }} recommendations in {{ summary.accounts }} account(s),
{{ summary.resources }} resources scanned; {{ summary.unpriced }} recommendation(s) without a list price,
not in the total.</p>
<h2>By category</h2>
<table><tr><th>Category</th><th>Findings</th><th>Monthly savings ({{ total.currency }})</th></tr>
{%- for category, row in summary.byCategory.items() %}
<tr><td>{{ category }}</td><td class=num>{{ row.count }}</td>
<td class=num>{{ row.monthlySavings.amount }}</td></tr>
{%- endfor %}
</table>
<h2>Recommendations</h2>
<table><tr><th>Account</th><th>Region</th><th>Resource</th><th>Module</th><th>Action</th>
<th>Confidence</th><th>Monthly savings ({{ total.currency }})</th></tr>
{%- for r in recommendations %}
<tr><td>{{ r.account }}</td><td>{{ r.region }}</td>
<td>{{ r.resourceType }} {{ r.resourceName or r.resourceId }}</td><td>{{ r.module }}</td>
<td>{{ r.title }}</td><td>{{ r.confidence }}</td>
{%- if r.monthlySavings %}
<td class=num>{{ r.monthlySavings.amount }}</td></tr>
{%- else %}
<td class=unpriced>unpriced: {{ r.unpricedReason or "" }}</td></tr>
{%- endif %}
{%- endfor %}
</table>
{%- if loop.rows %}
<h2>Applied and verified</h2>
<p>Verified changes realized <strong>{{ loop.realized }} USD</strong> per month against an estimate of
{{ loop.estimated }} USD (list-price run rates before and after, one price book); {{ loop.applied }}
applied change(s) wait for their verification window, {{ loop.regressed }} regressed.</p>
<table><tr><th>Account</th><th>Resource</th><th>Module</th><th>State</th><th>Applied at</th>
<th>Estimated (USD)</th><th>Realized (USD)</th><th>Basis</th><th>Regressed</th></tr>
{%- for r in loop.rows %}
<tr><td>{{ r.account }}</td><td>{{ r.resource }}</td><td>{{ r.module }}</td><td>{{ r.state }}</td>
<td>{{ r.appliedAt }}</td><td class=num>{{ r.estimated }}</td><td class=num>{{ r.realized }}</td>
<td>{{ r.basis }}</td><td>{{ r.regressed }}</td></tr>
{%- endfor %}
</table>
{%- endif %}
</body></html>
"""


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(_TEMPLATE)


def render(data: dict[str, Any], *, loop: dict[str, Any] | None = None) -> str:
    """The page for a report's JSON form (``Report.to_json()``); no scripts, no external assets.
    ``loop`` (``loop_rows``) adds the closed loop's section."""
    return _template().render(
        summary=data["summary"], recommendations=data["recommendations"], loop=loop or {"rows": []}
    )


def loop_rows(records: Sequence[LoopRecord]) -> dict[str, Any]:
    """The closed loop's section: one row per Applied or Verified change, and the totals of the
    Verified ones whose realized saving is known (an unknown one is in neither total)."""
    rows: list[dict[str, str]] = []
    estimated = realized = Decimal(0)
    for r in records:
        finding = r.baseline.finding
        estimate = finding.monthly_savings.amount if finding.monthly_savings else None
        got = r.realized.monthly_savings if r.realized is not None else None
        if r.state == "Verified" and got is not None:
            realized += got.amount
            estimated += estimate or Decimal(0)
        rows.append(
            {
                "account": r.account_name,
                "resource": f"{finding.resource_type} {finding.resource_name or finding.resource_id}",
                "module": r.module,
                "state": str(r.state),
                "appliedAt": r.applied_at.isoformat(timespec="minutes") if r.applied_at else "",
                "estimated": f"{estimate:.2f}" if estimate is not None else "unpriced",
                "realized": f"{got.amount:.2f}"
                if got is not None
                else (r.realized.reason or "")
                if r.realized
                else "",
                "basis": r.realized.basis if r.realized is not None else r.baseline.run_rate_basis,
                "regressed": ", ".join(sorted({str(x.get("signal")) for x in r.regressions})),
            }
        )
    return {
        "rows": rows,
        "estimated": f"{estimated:.2f}",
        "realized": f"{realized:.2f}",
        "applied": sum(1 for r in records if r.state == "Applied"),
        "regressed": sum(1 for r in records if r.regressions),
    }

"""The self-contained HTML report: a Jinja2 template with autoescaping, so no value becomes markup."""

from __future__ import annotations

import functools
from typing import Any

import jinja2

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
</body></html>
"""


@functools.cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(_TEMPLATE)


def render(data: dict[str, Any]) -> str:
    """The page for a report's JSON form (``Report.to_json()``); no scripts, no external assets."""
    return _template().render(summary=data["summary"], recommendations=data["recommendations"])

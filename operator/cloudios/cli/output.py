"""Renders a scan report as a rich table, JSON, CSV or a self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
from typing import IO

from rich.console import Console
from rich.table import Table

from cloudios.cli.report import Report

FORMATS = ("table", "json", "csv", "html")

_CSV_COLUMNS = (
    "id",
    "account",
    "accountId",
    "region",
    "resourceType",
    "resourceId",
    "module",
    "category",
    "action",
    "confidence",
    "monthlySavings",
    "currency",
    "priceBasis",
    "unpricedReason",
    "title",
)


def render(report: Report, fmt: str, out: IO[str]) -> None:
    """Write the report to ``out`` in the given format."""
    if fmt == "json":
        json.dump(report.to_json(), out, indent=2, sort_keys=False)
        out.write("\n")
    elif fmt == "csv":
        out.write(to_csv(report))
    elif fmt == "html":
        out.write(to_html(report))
    else:
        table(report, wide_console(out))


def wide_console(out: IO[str]) -> Console:
    """A terminal's own width; 160 columns when writing to a file or pipe, so rows stay readable."""
    return Console(file=out, width=None if out.isatty() else 160)


def to_csv(report: Report) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rec in report.to_json()["recommendations"]:
        money = rec["monthlySavings"] or {}
        row = {k: rec.get(k) for k in _CSV_COLUMNS}
        row["monthlySavings"] = money.get("amount")
        row["currency"] = money.get("currency")
        writer.writerow(row)
    return buf.getvalue()


def table(report: Report, console: Console) -> None:
    """Recommendations by savings, then totals by category."""
    t = Table(title="Cloudios recommendations", title_justify="left")
    t.add_column("Account", no_wrap=True)
    t.add_column("Region", no_wrap=True)
    t.add_column("Module", no_wrap=True)
    t.add_column("Recommendation", ratio=1)
    t.add_column("Confidence", no_wrap=True)
    t.add_column("Monthly savings", justify="right", no_wrap=True)
    for outcome, f in report.findings:
        t.add_row(
            outcome.account_name,
            f.region,
            f.module,
            f.title,
            f.confidence.value,
            str(f.monthly_savings) if f.monthly_savings else "unpriced",
        )
    console.print(t)
    summary = report.summary()
    totals = Table(title="Totals by category", title_justify="left")
    totals.add_column("Category")
    totals.add_column("Findings", justify="right")
    totals.add_column("Monthly savings", justify="right")
    for category, row in summary["byCategory"].items():
        totals.add_row(
            category,
            str(row["count"]),
            f"{row['monthlySavings']['amount']} {row['monthlySavings']['currency']}",
        )
    total = summary["monthlySavings"]
    totals.add_row(
        "total", str(summary["recommendations"]), f"{total['amount']} {total['currency']}", style="bold"
    )
    console.print(totals)
    if summary["unpriced"]:
        console.print(f"{summary['unpriced']} recommendation(s) without a list price (not in the total):")
        for _, f in report.findings:
            if f.monthly_savings is None:
                console.print(
                    f"  {f.resource_id} ({f.module}): {html.escape(f.unpriced_reason or '', quote=False)}"
                )
    for warning in summary["warnings"]:
        console.print(f"[yellow]warning:[/] {html.escape(warning, quote=False)}")
    for error in summary["errors"]:
        console.print(f"[red]error:[/] {error['file']}: {error['object']}: {error['message']}")


def to_html(report: Report) -> str:
    """A self-contained page (no scripts, no external assets); every value is escaped."""
    data = report.to_json()
    summary = data["summary"]
    esc = html.escape
    rows = "\n".join(
        "<tr>"
        + "".join(
            f"<td>{esc(str(v))}</td>"
            for v in (
                r["account"],
                r["region"],
                f"{r['resourceType']} {r['resourceName'] or r['resourceId']}",
                r["module"],
                r["title"],
                r["confidence"],
            )
        )
        + (
            f"<td class=num>{esc(r['monthlySavings']['amount'])}</td></tr>"
            if r["monthlySavings"]
            else f"<td class=unpriced>unpriced: {esc(r['unpricedReason'] or '')}</td></tr>"
        )
        for r in data["recommendations"]
    )
    cats = "\n".join(
        f"<tr><td>{esc(k)}</td><td class=num>{v['count']}</td>"
        f"<td class=num>{esc(v['monthlySavings']['amount'])}</td></tr>"
        for k, v in summary["byCategory"].items()
    )
    total = summary["monthlySavings"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cloudios report</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #d0d7de;padding:.3rem .6rem}}
th{{background:#f6f8fa;text-align:left}}.num{{text-align:right;font-variant-numeric:tabular-nums}}
.total{{font-size:1.4rem}}
</style></head><body>
<h1>Cloudios report</h1>
<p class="total">Potential savings: <strong>{esc(total["amount"])} {esc(total["currency"])}</strong> per month
(list prices) across {summary["recommendations"]} recommendations in {summary["accounts"]} account(s),
{summary["resources"]} resources scanned; {summary["unpriced"]} recommendation(s) without a list price,
not in the total.</p>
<h2>By category</h2>
<table><tr><th>Category</th><th>Findings</th><th>Monthly savings ({esc(total["currency"])})</th></tr>
{cats}</table>
<h2>Recommendations</h2>
<table><tr><th>Account</th><th>Region</th><th>Resource</th><th>Module</th><th>Action</th>
<th>Confidence</th><th>Monthly savings ({esc(total["currency"])})</th></tr>
{rows}</table>
</body></html>
"""

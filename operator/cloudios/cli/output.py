"""Renders a scan report as a rich table, JSON, YAML, CSV or a self-contained HTML page."""

from __future__ import annotations

import csv
import io
import json
from typing import IO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cloudios.cli import html_report, serialize
from cloudios.cli.report import Report
from cloudios.cli.terminal import cell

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
    elif fmt == "yaml":
        out.write(serialize.to_yaml(report.to_json()))
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
            cell(outcome.account_name),
            cell(f.region),
            cell(f.module),
            cell(f.title),
            cell(f.confidence.value),
            cell(f.monthly_savings or "unpriced"),
        )
    console.print(t)
    summary = report.summary()
    totals = Table(title="Totals by category", title_justify="left")
    totals.add_column("Category")
    totals.add_column("Findings", justify="right")
    totals.add_column("Monthly savings", justify="right")
    for category, row in summary["byCategory"].items():
        money = row["monthlySavings"]
        totals.add_row(cell(category), cell(row["count"]), cell(f"{money['amount']} {money['currency']}"))
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
                    Text.assemble("  ", cell(f"{f.resource_id} ({f.module}): {f.unpriced_reason or ''}"))
                )
    for warning in summary["warnings"]:
        console.print(Text.assemble(("warning:", "yellow"), " ", cell(warning)))
    for error in summary["errors"]:
        where = f"{error['file']}: {error['object']}: {error['message']}"
        console.print(Text.assemble(("error:", "red"), " ", cell(where)))


def to_html(report: Report) -> str:
    """A self-contained page (no scripts, no external assets); every value is escaped."""
    return html_report.render(report.to_json(), loop=html_report.loop_rows(report.loop))

"""The Grafana dashboard of the operator chart, defined in Python and written to
helm/cloudios/files/dashboard.json (`python tools/gen_dashboard.py`; a test fails when the committed
copy drifts). tools/render_dashboard.py draws the same panels with matplotlib for docs/.

Every query uses the dashboard's variables: ``$datasource`` (any Prometheus), ``$namespace``
(multi-select, the tenants) and ``$currency`` (ISO code). Grafana's own ``$__rate_interval`` and
``$__range`` appear in rates and increases.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "helm" / "cloudios" / "files" / "dashboard.json"
UID = "cloudios-overview"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
NS = 'namespace=~"$namespace"'
MONEY = f'{NS},currency="$currency"'
WIDTH = 24
RI = "[$__rate_interval]"
SAVINGS = "cloudios_potential_monthly_savings"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # timeseries | stat | bargauge
    queries: tuple[Query, ...]
    description: str
    unit: str = "short"
    width: int = 12
    height: int = 8
    stacked: bool = False


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


ROWS = (
    Row("Savings", (
        Panel("Potential savings per month ($currency)", "stat",
              (Query(f"sum({SAVINGS}{{{MONEY}}})", instant=True),),
              "Open findings' monthly savings at list price, every category and selected namespace.",
              width=6, height=5),
        Panel("Potential savings per hour ($currency)", "stat",
              (Query(f"sum(cloudios_potential_hourly_savings{{{MONEY}}})", instant=True),),
              "The same savings per hour (monthly / 730, OpenCost's convention), comparable with "
              "OpenCost's hourly cost metrics.", width=6, height=5),
        Panel("Recommendations open", "stat",
              (Query(f'sum(cloudios_recommendations{{{NS},state="Proposed"}})', instant=True),),
              "Recommendations waiting for a decision.", width=6, height=5),
        Panel("Accounts with invalid credentials", "stat",
              (Query(f"count(cloudios_account_credentials_valid{{{NS}}} == 0) or vector(0)", instant=True),),
              "Cloud accounts whose health check refused the credentials (CloudiosCredentialsInvalid).",
              width=6, height=5),
        Panel("Savings by namespace ($currency/month)", "timeseries",
              (Query(f"sum by (namespace) ({SAVINGS}{{{MONEY}}})", "{{namespace}}"),),
              "Monthly savings of each tenant's open findings over time.", stacked=True),
        Panel("Savings by category ($currency/month)", "timeseries",
              (Query(f"sum by (category) ({SAVINGS}{{{MONEY}}})", "{{category}}"),),
              "Idle, rightsize, orphaned, modernize, schedule and commitment findings.", stacked=True),
        Panel("Savings by account ($currency/month)", "timeseries",
              (Query(f"sum by (namespace, account) (cloudios_account_potential_monthly_savings{{{MONEY}}})",
                     "{{namespace}}/{{account}}"),),
              "Monthly savings of each CloudAccount's open findings.", width=24),
    )),
    Row("Recommendations", (
        Panel("Open vs approved vs resolved", "timeseries", (
            Query(f'sum(cloudios_recommendations{{{NS},state="Proposed"}})', "open"),
            Query(f'sum(cloudios_recommendations{{{NS},state=~"Approved|Applied|Verified"}})', "approved"),
            Query(f'sum(cloudios_recommendations{{{NS},state="Resolved"}})', "resolved"),
            Query(f'sum(cloudios_recommendations{{{NS},state=~"Dismissed|Expired"}})',
                  "dismissed or expired"),
        ), "Recommendation objects by status.state, grouped the way a FinOps review reads them.",
            width=24, stacked=True),
    )),
    Row("Scan health", (
        Panel("Scans per hour", "timeseries", (
            Query(f"sum by (result) (rate(cloudios_scans_total{{{NS}}}{RI})) * 3600", "{{result}}"),
        ), "Account scans by result.", width=8),
        Panel("Scan failures by reason", "timeseries", (
            Query(f"sum by (reason) (increase(cloudios_scan_failures_total{{{NS}}}{RI}))",
                  "{{reason}}"),
        ), "Failed account scans by their (bounded) CamelCase reason.", width=8),
        Panel("Scan duration p95", "timeseries", (
            Query("histogram_quantile(0.95, sum by (le) "
                  f"(rate(cloudios_scan_duration_seconds_bucket{{{NS}}}{RI})))", "p95"),
        ), "95th percentile of one account's scan, including a wait for a scan slot.", unit="s", width=8),
        Panel("Last success, in scheduled intervals", "bargauge", (
            Query("(time() - max by (namespace, policy) "
                  f"(cloudios_scan_last_success_timestamp_seconds{{{NS}}})) / max by (namespace, policy) "
                  f"(cloudios_scan_schedule_interval_seconds{{{NS}}})",
                  "{{namespace}}/{{policy}}", instant=True),
        ), "How many of its own schedule intervals ago each ScanPolicy last succeeded; above 2 "
            "CloudiosScanStale fires.", width=24),
    )),
    Row("Cloud API cost", (
        Panel("Cloud API calls per hour", "timeseries", (
            Query(f"sum by (provider, service) (rate(cloudios_cloud_api_calls_total{RI})) * 3600",
                  "{{provider}} {{service}}"),
        ), "Logical cloud API calls made by scans (pages count), what cloud providers bill or throttle.",
            stacked=True),
        Panel("Retries (throttling) per hour", "timeseries", (
            Query(f"sum by (provider, service) (rate(cloudios_cloud_api_retries_total{RI})) * 3600",
                  "{{provider}} {{service}}"),
        ), "Extra attempts after throttling or transient errors."),
    )),
    Row("Agent fleet", (
        Panel("Agents reporting vs silent", "timeseries", (
            Query("count(time() - cloudios_agent_last_report_timestamp_seconds "
                  "<= scalar(max(cloudios_agent_reporting_window_seconds))) or vector(0)", "reporting"),
            Query("count(time() - cloudios_agent_last_report_timestamp_seconds "
                  "> scalar(max(cloudios_agent_reporting_window_seconds))) or vector(0)", "silent"),
        ), "Kubernetes CloudAccounts whose agent reported within the reporting window.", width=8),
        Panel("Agent reports per minute", "timeseries", (
            Query(f"sum(rate(cloudios_agent_reports_received_total{RI})) * 60", "accepted"),
            Query(f"sum by (reason) (rate(cloudios_agent_reports_rejected_total{RI})) * 60",
                  "rejected: {{reason}}"),
        ), "Reports ingest accepted, and those it refused by reason.", width=8),
        Panel("Seconds since each agent's last report", "bargauge", (
            Query("time() - max by (namespace, account) "
                  f"(cloudios_agent_last_report_timestamp_seconds{{{NS}}})",
                  "{{namespace}}/{{account}}", instant=True),
        ), "Per kubernetes CloudAccount; CloudiosAgentSilent fires after three reporting windows.",
            unit="s", width=8),
    )),
    Row("Operator", (
        Panel("Reconcile p95 by handler", "timeseries", (
            Query("histogram_quantile(0.95, sum by (le, kind, handler) "
                  f"(rate(cloudios_reconcile_duration_seconds_bucket{RI})))", "{{kind}} {{handler}}"),
        ), "kopf handler runs (reconcile, scheduler, health check, webhooks).", unit="s", width=8),
        Panel("Errors per hour", "timeseries", (
            Query(f"sum by (kind, handler, error) (rate(cloudios_reconcile_errors_total{RI})) * 3600",
                  "{{kind}} {{handler}} {{error}}"),
            Query('sum by (webhook) (rate(cloudios_admission_requests_total{result="error"}'
                  f"{RI})) * 3600", "admission {{webhook}}"),
        ), "Handler failures (transient: retried) and admission reviews the webhooks could not decide.",
            width=8),
        Panel("Webhook outbox", "timeseries", (
            Query(f"sum(cloudios_webhook_outbox_depth{{{NS}}}) or vector(0)", "pending"),
            Query(f"sum(cloudios_webhook_dead_letters{{{NS}}}) or vector(0)", "dead letters"),
        ), "Webhook deliveries waiting, and those that ran out of retries.", width=8),
    )),
)  # fmt: skip


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    targets = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": q.expr,
            "legendFormat": q.legend or "__auto",
            "instant": q.instant,
            "range": not q.instant,
        }
        for i, q in enumerate(panel.queries)
    ]
    custom: dict[str, Any] = {}
    if panel.kind == "timeseries":
        custom = {
            "fillOpacity": 20 if panel.stacked else 0,
            "stacking": {"mode": "normal" if panel.stacked else "none"},
        }
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": panel.unit, "custom": custom}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if panel.kind == "timeseries"
        else {},
    }


def _variables() -> list[dict[str, Any]]:
    def query(name: str, label: str, expr: str, *, multi: bool) -> dict[str, Any]:
        return {
            "name": name, "label": label, "type": "query", "datasource": DATASOURCE,
            "query": {"query": expr, "refId": f"{name}-variable"}, "definition": expr, "refresh": 2,
            "multi": multi, "includeAll": multi, "sort": 1, "hide": 0,
            **({"allValue": ".*", "current": {"text": "All", "value": "$__all"}} if multi else {}),
        }  # fmt: skip

    return [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "refresh": 1, "hide": 0, "current": {}},
        query("namespace", "Namespace", f"label_values({SAVINGS}, namespace)", multi=True),
        query("currency", "Currency", f"label_values({SAVINGS}, currency)", multi=False),
    ]  # fmt: skip


def dashboard() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    next_id, y = 1, 0
    for row in ROWS:
        panels.append({"id": next_id, "type": "row", "title": row.title, "collapsed": False,
                       "gridPos": {"h": 1, "w": WIDTH, "x": 0, "y": y}, "panels": []})  # fmt: skip
        next_id, y, x, tallest = next_id + 1, y + 1, 0, 0
        for panel in row.panels:
            if x + panel.width > WIDTH:
                x, y, tallest = 0, y + tallest, 0
            panels.append(_panel(panel, next_id, x, y))
            next_id, x, tallest = next_id + 1, x + panel.width, max(tallest, panel.height)
        y += tallest
    return {
        "uid": UID,
        "title": "Cloudios",
        "description": "Cloud savings found by Cloudios, scan health, cloud API cost and the agent fleet.",
        "tags": ["cloudios", "finops"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "5m",
        "time": {"from": "now-7d", "to": "now"},
        "timezone": "utc",
        "annotations": {"list": []},
        "templating": {"list": _variables()},
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main() -> int:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

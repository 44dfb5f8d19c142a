"""The chart's Grafana dashboard as the tests read it: its model, its queries, Grafana's substitutions."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

from tests.support import chart, tools

DASHBOARD = chart.CHART / "files" / "dashboard.json"
# What Grafana substitutes before a query reaches Prometheus.
VARIABLES = {
    "$__rate_interval": "5m",
    "$__interval": "1m",
    "$__range": "1h",
    "$namespace": ".*",
    "$currency": "USD",
}


def generator() -> ModuleType:
    return tools.load_tool("gen_dashboard")


def model() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def queries(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    assert "$" not in expr, f"an unknown variable in {expr}"
    return expr

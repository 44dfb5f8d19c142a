"""The chart's Grafana dashboard: generated copy in sync, a sane dashboard model, shipped in an opt-in
sidecar ConfigMap, every query parsed by Debian's Prometheus, every metric it reads exported by the
operator."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.metrics_core import Metric

from cloudios.security import tls
from cloudios.sinks.metrics import Metrics
from tests.support import chart, prometheus
from tests.support.controlplane import ControlPlane
from tests.support.dashboard import DASHBOARD, generator, model, queries, substitute

pytestmark = [pytest.mark.helm, pytest.mark.prometheus]

METRIC = re.compile(r"\bcloudios_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def exported_names() -> set[str]:
    """Every series name the operator's registry can expose (families without samples included)."""
    families: list[Metric] = list(Metrics(version="0", process_metrics=False).registry.collect())
    return {f.name + suffix for f in families for suffix in SUFFIXES.get(f.type, ("",))}


def test_the_committed_dashboard_is_generated() -> None:
    assert DASHBOARD.read_text() == generator().render(), "stale: run python tools/gen_dashboard.py"


def test_the_dashboard_model_is_sane() -> None:
    dashboard = model()
    assert dashboard["uid"] == "cloudios-overview"
    assert dashboard["schemaVersion"] >= 36
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    occupied: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "bargauge"}
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("by namespace", "by category", "by account", "open vs approved vs resolved", "scan",
                  "api calls", "agent"):  # fmt: skip
        assert topic in titles, topic


def test_every_metric_the_dashboard_reads_is_exported() -> None:
    exported = exported_names()
    used = {name for expr in queries(model()) for name in METRIC.findall(expr)}
    assert used, "the dashboard queries cloudios metrics"
    assert used <= exported, f"not exported by the operator: {sorted(used - exported)}"
    # The check can fail: a misspelt name is caught.
    assert "cloudios_potential_savings" not in exported


def test_the_chart_ships_it_only_when_asked(control_plane: ControlPlane) -> None:
    default = chart.render(control_plane, *chart.KEY)
    assert not [d for d in default if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]]
    docs = chart.render(
        control_plane, *chart.KEY, "--set", "dashboard.enabled=true",
        "--set", "dashboard.annotations.grafana_folder=FinOps",
    )  # fmt: skip
    (config_map,) = [d for d in docs if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "FinOps"}
    assert json.loads(config_map["data"]["cloudios.json"]) == model()
    # Server-side dry run: the API server accepts the ConfigMap as rendered.
    control_plane.kubectl("create", "namespace", "cloudios-system", check=False)
    control_plane.kubectl(
        "apply", "--dry-run=server", "-n", "cloudios-system", "-f", "-", input=chart.dump([config_map])
    )


@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[prometheus.RunningPrometheus]:
    root = tmp_path_factory.mktemp("dashboard-prometheus")
    with prometheus.serve(root / "data", root / "run") as running:
        yield running


def _query(running: prometheus.RunningPrometheus, expr: str) -> httpx.Response:
    assert running.ca_file is not None
    return httpx.get(
        f"{running.url}/api/v1/query",
        params={"query": expr},
        verify=tls.client_context(running.ca_file),
        timeout=10,
    )


@pytest.mark.parametrize("expr", [*queries(model()), *(v["definition"] for v in model()["templating"]["list"]
                                                        if v["type"] == "query")])  # fmt: skip
def test_prometheus_parses_every_query(empty_prometheus: prometheus.RunningPrometheus, expr: str) -> None:
    if expr.startswith("label_values("):  # Grafana's variable function: its series selector is PromQL
        expr = expr.removeprefix("label_values(").rsplit(",", 1)[0]
    answer = _query(empty_prometheus, substitute(expr))
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "success"


def test_a_query_prometheus_cannot_parse_fails(empty_prometheus: prometheus.RunningPrometheus) -> None:
    answer = _query(empty_prometheus, "sum by (namespace (cloudios_potential_monthly_savings)")
    assert answer.status_code == 400
    assert answer.json()["errorType"] == "bad_data"


def test_the_generator_writes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = generator()
    monkeypatch.setattr(tool, "OUT", tmp_path / "dashboard.json")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    assert tool.main() == 0
    assert (tmp_path / "dashboard.json").read_text() == DASHBOARD.read_text()

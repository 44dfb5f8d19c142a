"""Debian's Prometheus scrapes the running operator over TLS with a real ServiceAccount token, using the
scrape config the chart's ServiceMonitor renders to; after a scan its HTTP API answers with the scan,
savings and API-call series, and the exposition passes `promtool check metrics`."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cloudios.security import tls
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.e2e.test_metrics_endpoint import grant_metrics, service_account_token
from tests.support import chart, dashboard, prometheus
from tests.support.controlplane import ControlPlane, free_port
from tests.support.scrape_config import scrape_config

pytestmark = [pytest.mark.cluster, pytest.mark.aws, pytest.mark.helm, pytest.mark.prometheus]

ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"
CA_SECRET = ("cloudios-webhook-tls", "ca.crt")
# The chart's own ServiceMonitor, verifying the operator's certificate (the chart's default skips it)
# and scraping every 2 s so the test does not wait for the default 30 s.
MONITOR_VALUES = (
    "--set", "metrics.serviceMonitor.enabled=true",
    "--set", "metrics.serviceMonitor.interval=2s",
    "--set", "metrics.serviceMonitor.scrapeTimeout=2s",
    "--set", "metrics.serviceMonitor.tlsConfig.insecureSkipVerify=false",
    "--set", "metrics.serviceMonitor.tlsConfig.serverName=127.0.0.1",
    "--set", f"metrics.serviceMonitor.tlsConfig.ca.secret.name={CA_SECRET[0]}",
    "--set", f"metrics.serviceMonitor.tlsConfig.ca.secret.key={CA_SECRET[1]}",
    *chart.KEY,
)  # fmt: skip


class PromApi:
    """Prometheus's HTTP API over its own TLS."""

    def __init__(self, running: prometheus.RunningPrometheus) -> None:
        assert running.ca_file is not None
        self.url = running.url
        self.verify = tls.client_context(str(running.ca_file))

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, verify=self.verify, timeout=10)
        body = response.json()
        assert response.status_code == 200, body  # a PromQL parse error is a 400 with errorType bad_data
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return list(self.get("/api/v1/query", query=expr)["result"])

    def value(self, expr: str) -> float:
        result = self.query(expr)
        assert len(result) == 1, f"{expr}: {result}"
        return float(result[0]["value"][1])


def monitor(control_plane: ControlPlane, namespace: str) -> dict[str, Any]:
    docs = chart.render(control_plane, *MONITOR_VALUES, namespace=namespace)
    (found,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    return found


@pytest.fixture
def scraping(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane, tmp_path: Path
) -> Iterator[tuple[PromApi, dict[str, Any], str, str]]:
    """An operator that scanned its hourly policy once, and a Prometheus scraping it as the chart says."""
    ns = cluster.namespace
    token = service_account_token(control_plane, ns, "prometheus")
    grant_metrics(control_plane, ns, "prometheus")
    port = free_port()
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, policy("hourly", schedule="0 * * * *", max_recommendations=500))
    operator = operators(ns, CLOUDIOS_METRICS_PORT=str(port), CLOUDIOS_METRICS_ADDR="127.0.0.1")
    token_file = tmp_path / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    ca = Path(operator.env["CLOUDIOS_WEBHOOK_CA_FILE"])
    rendered = monitor(control_plane, ns)
    job = scrape_config(rendered, target=f"127.0.0.1:{port}", token_file=token_file, files={CA_SECRET: ca})
    # The same target without the token: Prometheus must see it refused (401), never its data.
    anonymous = {k: v for k, v in job.items() if k != "authorization"} | {
        "job_name": "anonymous",
        "static_configs": [{"targets": [f"127.0.0.1:{port}"], "labels": {"job": "anonymous"}}],
    }
    with prometheus.serve(
        tmp_path / "prometheus-data", tmp_path / "prometheus", scrape_configs=[job, anonymous]
    ) as running:

        def scanned() -> bool:
            ready = cluster.condition(POLICIES, "hourly", "Ready") or {}
            return ready.get("reason") == "ScanSucceeded"

        eventually(scanned, timeout=180, what="first scan of the policy")
        yield PromApi(running), job, token, operator.env["CLOUDIOS_WEBHOOK_CA_FILE"]


def _tried(api: PromApi, pool: str) -> dict[str, Any] | None:
    """The target of ``pool`` once it has been scraped (each job scrapes on its own timer)."""
    pools = {t["scrapePool"]: t for t in api.get("/api/v1/targets")["activeTargets"]}
    return pools[pool] if pools[pool]["health"] != "unknown" else None


def test_prometheus_scrapes_the_operator_as_the_chart_configures_it(
    scraping: tuple[PromApi, dict[str, Any], str, str], cluster: Cluster, tmp_path: Path
) -> None:
    api, job, token, ca = scraping
    ns = cluster.namespace
    assert job["scheme"] == "https"
    assert job["honor_labels"] is True
    assert job["tls_config"]["insecure_skip_verify"] is False
    assert job["authorization"]["type"] == "Bearer"

    def scraped_after_scan() -> bool:
        found = api.query(f'cloudios_scans_total{{namespace="{ns}",policy="hourly",result="success"}}')
        return bool(found) and float(found[0]["value"][1]) >= 1

    eventually(scraped_after_scan, timeout=60, what="the scan's counter in Prometheus")
    targets = {t["scrapePool"]: t for t in api.get("/api/v1/targets")["activeTargets"]}
    assert targets[job["job_name"]]["health"] == "up", targets[job["job_name"]]
    assert targets[job["job_name"]]["scrapeUrl"].startswith("https://127.0.0.1:")
    anonymous = eventually(lambda: _tried(api, "anonymous"), timeout=60, what="the anonymous job's scrape")
    assert (anonymous["health"], "401" in anonymous["lastError"]) == ("down", True), anonymous
    assert api.query('up{job="anonymous"} == 1') == []

    # The scan: one success, none failed; the tenant's namespace label survives (honorLabels).
    scans = api.query(f'cloudios_scans_total{{namespace="{ns}",policy="hourly"}}')
    assert {s["metric"]["result"]: float(s["value"][1]) for s in scans} == {"success": 1, "failure": 0}
    assert api.query("count({exported_namespace!=''})") == []
    assert (
        api.value(f'cloudios_scan_next_run_timestamp_seconds{{namespace="{ns}",policy="hourly"}}')
        > time.time()
    )
    assert api.value(f'cloudios_scan_schedule_interval_seconds{{namespace="{ns}",policy="hourly"}}') == 3600

    # Savings: the gauges equal the Recommendations' sum; hourly is monthly / 730, per account too.
    expected = Decimal(0)
    for rec in cluster.items(RECOMMENDATIONS):
        money = rec["spec"].get("monthlySavings")
        if money is not None:
            expected += Decimal(money["amount"])
    assert expected > 0, "the estate has priced findings"
    savings = f'sum(cloudios_potential_monthly_savings{{namespace="{ns}",currency="USD"}})'

    def savings_scraped() -> float:  # set after publishing, a moment after the scan's counter
        return api.value(savings)

    monthly = eventually(savings_scraped, timeout=30, what="the savings gauges in Prometheus")
    assert abs(Decimal(repr(monthly)) - expected) < Decimal("0.06"), (monthly, expected)
    hourly = api.value(f'sum(cloudios_potential_hourly_savings{{namespace="{ns}",currency="USD"}})')
    assert hourly == pytest.approx(monthly / 730, rel=1e-6)
    by_account = api.query(f'cloudios_account_potential_monthly_savings{{namespace="{ns}"}}')
    assert [(s["metric"]["account"], s["metric"]["currency"]) for s in by_account] == [("prod", "USD")]
    assert float(by_account[0]["value"][1]) == pytest.approx(monthly, abs=0.06)

    # API calls: what the scan made, by service, equal to the operator's own exposition.
    calls = api.query('sum by (service) (cloudios_cloud_api_calls_total{provider="aws"})')
    by_service = {c["metric"]["service"]: float(c["value"][1]) for c in calls}
    assert by_service.get("ec2", 0) > 0
    assert by_service.get("cloudwatch", 0) > 0
    exposition = _scrape(job, token, ca)
    direct = sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("cloudios_cloud_api_calls_total{") and 'provider="aws"' in line
    )
    assert sum(by_service.values()) == direct
    # Handlers ran and were timed; the credentials are valid.
    assert (
        api.value('sum(cloudios_reconcile_duration_seconds_count{kind="ScanPolicy",handler="scheduler"})') > 0
    )
    assert api.value(f'cloudios_account_credentials_valid{{namespace="{ns}",account="prod"}}') == 1
    # The decision webhooks answered the API server for the published Recommendations.
    admitted = (
        'sum(cloudios_admission_requests_total{webhook="validate-recommendation-decision",result="allowed"})'
    )
    assert api.value(admitted) > 0

    eventually(lambda: _dashboard_shows_the_scan(api), timeout=30, what="the dashboard's panels with data")
    _, promtool = prometheus.tools()
    (tmp_path / "exposition.txt").write_text(exposition)
    checked = subprocess.run(
        [str(promtool), "check", "metrics"], input=exposition, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _scrape(job: dict[str, Any], token: str, ca: str) -> str:
    target = job["static_configs"][0]["targets"][0]
    response = httpx.get(
        f"https://{target}{job['metrics_path']}",
        headers={"Authorization": f"Bearer {token}"},
        verify=tls.client_context(ca),
        timeout=10,
    )
    response.raise_for_status()
    return response.text


def _dashboard_shows_the_scan(api: PromApi) -> bool:
    """Every dashboard query runs (Grafana's variables substituted as it would); the savings,
    recommendation and API-call panels have data (rates need two scrapes after the scan)."""
    answered: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for panel in dashboard.model()["panels"]:
        for target in panel.get("targets", []):
            answered[panel["title"], target["refId"]] = api.query(dashboard.substitute(target["expr"]))
    for title in ("Savings by namespace", "Savings by category", "Savings by account", "Cloud API calls"):
        hits = [result for (panel, _), result in answered.items() if panel.startswith(title)]
        assert hits, title
        assert all(hits), f"panel {title!r} shows no data"
    return bool(answered["Open vs approved vs resolved", "A"])

"""The ServiceMonitor -> scrape_config translation the Prometheus e2e test relies on (tests/support)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.scrape_config import IN_POD_TOKEN, scrape_config


def monitor(**endpoint: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "cloudios", "namespace": "cloudios-system"},
        "spec": {"endpoints": [{"port": "metrics", "path": "/metrics", "scheme": "https", **endpoint}]},
    }


def test_every_field_the_chart_sets_is_translated(tmp_path: Path) -> None:
    ca, secret = tmp_path / "ca.crt", tmp_path / "credentials"
    job = scrape_config(
        monitor(
            honorLabels=True, interval="30s", scrapeTimeout="10s",
            authorization={"type": "Bearer", "credentials": {"name": "scraper", "key": "token"}},
            tlsConfig={"insecureSkipVerify": False, "serverName": "cloudios.cloudios-system.svc",
                       "ca": {"configMap": {"name": "ca", "key": "ca.crt"}}},
            relabelings=[{"sourceLabels": ["__meta_pod"], "targetLabel": "pod", "action": "Replace"}],
            metricRelabelings=[{"regex": "python_.*", "sourceLabels": ["__name__"], "action": "Drop"}],
        ),
        target="127.0.0.1:9090", token_file=tmp_path / "token",
        files={("scraper", "token"): secret, ("ca", "ca.crt"): ca},
    )  # fmt: skip
    assert job["metrics_path"] == "/metrics"
    assert job["scheme"] == "https"
    assert job["honor_labels"] is True
    assert (job["scrape_interval"], job["scrape_timeout"]) == ("30s", "10s")
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(secret)}
    assert job["tls_config"] == {
        "insecure_skip_verify": False, "server_name": "cloudios.cloudios-system.svc", "ca_file": str(ca),
    }  # fmt: skip
    assert job["relabel_configs"] == [
        {"source_labels": ["__meta_pod"], "target_label": "pod", "action": "replace"}
    ]
    assert job["metric_relabel_configs"][0]["action"] == "drop"
    (static,) = job["static_configs"]
    assert static["targets"] == ["127.0.0.1:9090"]
    assert static["labels"]["namespace"] == "cloudios-system"
    assert static["labels"]["job"] == "cloudios"


def test_the_pods_token_becomes_the_tests_token_file(tmp_path: Path) -> None:
    job = scrape_config(monitor(bearerTokenFile=IN_POD_TOKEN), target="x:1", token_file=tmp_path / "t")
    assert job["authorization"] == {"type": "Bearer", "credentials_file": str(tmp_path / "t")}
    assert job["honor_labels"] is False  # the Prometheus Operator's default


@pytest.mark.parametrize(
    "endpoint",
    [
        {"bearerTokenFile": "/somewhere/else"},
        {"proxyUrl": "http://proxy:3128"},  # a field the translation does not know
        {"tlsConfig": {"cert": {"secret": {"name": "client", "key": "tls.crt"}}}},
        {"tlsConfig": {"ca": {"secret": {"name": "not-provided", "key": "ca.crt"}}}},
    ],
)
def test_what_cannot_be_translated_is_refused(tmp_path: Path, endpoint: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        scrape_config(monitor(**endpoint), target="x:1", token_file=tmp_path / "t")

"""The chart's alerting rules, checked and unit-tested by Debian's promtool (not by string matching).

`promtool check rules` parses every rule the chart renders; `promtool test rules` feeds synthetic
series and asserts when each alert fires and when it stays silent.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.chart import render
from tests.support.controlplane import ControlPlane
from tests.support.prometheus import tools

pytestmark = [pytest.mark.helm]

METRIC = "cloudios_scan_last_success_timestamp_seconds"
# A policy that last succeeded at time 0 and never again (stale), and one that succeeds every minute.
UNIT_TESTS = {
    "rule_files": ["rules.yaml"],
    "evaluation_interval": "1m",
    "tests": [
        {
            "interval": "1m",
            "input_series": [
                {
                    "series": f'{METRIC}{{namespace="team-a",policy="stale"}}',
                    "values": "0+0x3000",
                },
                {
                    "series": f'{METRIC}{{namespace="team-a",policy="fresh"}}',
                    "values": "0+60x3000",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "1d", "alertname": "CloudiosScanStale", "exp_alerts": []},
                # Past two days but not yet for 15 minutes: pending, not firing.
                {"eval_time": "2d10m", "alertname": "CloudiosScanStale", "exp_alerts": []},
                {
                    "eval_time": "2d20m",
                    "alertname": "CloudiosScanStale",
                    "exp_alerts": [
                        {
                            "exp_labels": {"severity": "warning", "namespace": "team-a", "policy": "stale"},
                            "exp_annotations": {
                                "summary": "Cloudios has not completed a scan for two scheduled intervals.",
                                "description": "No successful scan for team-a/stale in the last two days; "
                                "check the ScanPolicy's Ready condition and the operator's logs.",
                            },
                        }
                    ],
                },
            ],
        }
    ],
}


def _rules(control_plane: ControlPlane) -> dict[str, Any]:
    docs = render(
        control_plane, "--set", "metrics.prometheusRule.enabled=true", "--set", "masterKey.existingSecret=x"
    )
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    return {"groups": rule["spec"]["groups"]}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    _, promtool = tools()  # missing: an error naming `make testdeps`, never a skip
    return subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_rendered_alerts_pass_promtool_check_and_unit_tests(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    rules = _rules(control_plane)
    assert [r["alert"] for g in rules["groups"] for r in g["rules"]] == ["CloudiosScanStale"]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(UNIT_TESTS, sort_keys=False))
    checked = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 1 rules found" in checked.stdout
    tested = _promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_promtool_unit_tests_can_fail(control_plane: ControlPlane, tmp_path: Path) -> None:
    """The same unit tests against a rule that never fires fail: the check above can catch a broken alert."""
    rules = _rules(control_plane)
    rules["groups"][0]["rules"][0]["expr"] = (
        "time() - cloudios_scan_last_success_timestamp_seconds > 30 * 86400"
    )
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(UNIT_TESTS, sort_keys=False))
    tested = _promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert tested.returncode != 0
    assert "CloudiosScanStale" in tested.stdout + tested.stderr

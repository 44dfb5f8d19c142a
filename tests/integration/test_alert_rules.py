"""The chart's alerting rules, checked and unit-tested by Debian's promtool (not by string matching).

`promtool check rules` parses every rule the chart renders; `promtool test rules` feeds synthetic
series and asserts, for every shipped alert, when it fires and when it stays silent. The inputs
are the series the operator exports (sinks/metrics.py, sinks/operations_metrics.py), with the
job and instance labels a scrape adds.
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

ALERTS = [
    "CloudiosScanStale",
    "CloudiosCredentialsInvalid",
    "CloudiosAgentSilent",
    "CloudiosWebhookDeadLetters",
    "CloudiosAuditCheckpointOverdue",
]
DOCS = "https://github.com/cloudios/cloudios/blob/main/docs/operations.md#"
TARGET = 'job="cloudios",instance="10.0.0.7:9090"'
HOUR, MINUTES = 3600, 8 * 60  # the scan scenario runs eight hours, one sample a minute


def _values(per_minute: list[float]) -> str:
    return " ".join(f"{v:g}" for v in per_minute)


def _scan_series() -> list[dict[str, str]]:
    """Hourly policies (slot at every full hour): one succeeds a minute after each slot, one
    succeeded at the first slot only, one whose scheduler stopped moving its next run; and a
    weekly policy that last succeeded at the start (not stale: a week has not passed)."""

    def slot(m: int) -> int:
        return m // 60 * HOUR

    fresh_last = [slot(m) + 60 if m % 60 >= 1 else slot(m) - HOUR + 60 for m in range(MINUTES)]
    series = {
        ("fresh", "next"): [slot(m) + HOUR for m in range(MINUTES)],
        ("fresh", "last"): fresh_last,
        ("fresh", "interval"): [HOUR] * MINUTES,
        ("failing", "next"): [slot(m) + HOUR for m in range(MINUTES)],
        ("failing", "last"): [60] * MINUTES,
        ("failing", "interval"): [HOUR] * MINUTES,
        ("stuck", "next"): [HOUR] * MINUTES,
        ("stuck", "last"): [60] * MINUTES,
        ("stuck", "interval"): [HOUR] * MINUTES,
        ("weekly", "next"): [7 * 24 * HOUR] * MINUTES,
        ("weekly", "last"): [60] * MINUTES,
        ("weekly", "interval"): [7 * 24 * HOUR] * MINUTES,
    }
    names = {
        "next": "cloudios_scan_next_run_timestamp_seconds",
        "last": "cloudios_scan_last_success_timestamp_seconds",
        "interval": "cloudios_scan_schedule_interval_seconds",
    }
    active = [
        {"series": f'{names[kind]}{{namespace="team-a",policy="{policy}",{TARGET}}}', "values": _values(v)}
        for (policy, kind), v in series.items()
    ]
    # A replica that ran "fresh" once and became standby keeps its frozen values: never an alert.
    standby = 'job="cloudios",instance="10.0.0.8:9090"'
    frozen = {"next": HOUR, "last": 60, "interval": HOUR}
    return active + [
        {
            "series": f'{names[kind]}{{namespace="team-a",policy="fresh",{standby}}}',
            "values": f"{v}x{MINUTES}",
        }
        for kind, v in frozen.items()
    ]


def _stale(policy: str) -> dict[str, Any]:
    return {
        "exp_labels": {"severity": "warning", "namespace": "team-a", "policy": policy},
        "exp_annotations": {
            "summary": "Cloudios missed two scheduled scans of a ScanPolicy.",
            "description": f"ScanPolicy team-a/{policy} has not completed a scan for two of its scheduled "
            "intervals; check its Ready condition, status.accounts and the operator's logs.",
            "runbook_url": DOCS + "cloudiosscanstale",
        },
    }  # fmt: skip


def _alert(name: str, at: str, *expected: dict[str, Any]) -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": list(expected)}


SCAN_STALE = {
    "interval": "1m",
    "input_series": _scan_series(),
    "alert_rule_test": [
        _alert("CloudiosScanStale", "1h50m"),
        # failing: true from 2h (next run 3h, last success 60 s); stuck: from 2h1m (now - 60 s > 2h).
        _alert("CloudiosScanStale", "2h10m"),  # pending for 15 minutes, not firing
        _alert("CloudiosScanStale", "2h20m", _stale("failing"), _stale("stuck")),
        _alert("CloudiosScanStale", "7h50m", _stale("failing"), _stale("stuck")),
    ],
}


def _credentials() -> dict[str, Any]:
    refused = {
        "exp_labels": {"severity": "warning", "namespace": "team-a", "account": "prod",
                       "reason": "AssumeRoleDenied", "job": "cloudios", "instance": "10.0.0.7:9090"},
        "exp_annotations": {
            "summary": "A CloudAccount's credentials are refused.",
            "description": "CloudAccount team-a/prod failed its health check with AssumeRoleDenied; its "
            "scans are skipped until the credentials or the role are fixed.",
            "runbook_url": DOCS + "cloudioscredentialsinvalid",
        },
    }  # fmt: skip
    return {
        "interval": "1m",
        "input_series": [
            {
                "series": "cloudios_account_credentials_valid"
                f'{{namespace="team-a",account="prod",reason="AssumeRoleDenied",{TARGET}}}',
                "values": "0x40",
            },
            {
                "series": f'cloudios_account_credentials_valid{{namespace="team-a",account="dev",{TARGET}}}',
                "values": "1x40",
            },
            # Fixed since: the active replica says valid, a standby still holds its old answer.
            {
                "series": "cloudios_account_credentials_valid"
                f'{{namespace="team-a",account="fixed",{TARGET}}}',
                "values": "1x40",
            },
            {
                "series": 'cloudios_account_credentials_valid{namespace="team-a",account="fixed",'
                'reason="AssumeRoleDenied",job="cloudios",instance="10.0.0.8:9090"}',
                "values": "0x40",
            },
        ],
        "alert_rule_test": [
            _alert("CloudiosCredentialsInvalid", "5m"),
            _alert("CloudiosCredentialsInvalid", "15m", refused),
        ],
    }


def _agents() -> dict[str, Any]:
    silent = {
        "exp_labels": {"severity": "warning", "namespace": "team-a", "account": "edge"},
        "exp_annotations": {
            "summary": "A cluster's Cloudios agent stopped reporting.",
            "description": "The agent of CloudAccount team-a/edge has not reported for 40m 0s; the "
            "cluster's recommendations are going stale.",
            "runbook_url": DOCS + "cloudiosagentsilent",
        },
    }  # fmt: skip
    # The window gauge carries the operator's own namespace (a target label, honorLabels keeps the
    # accounts' namespace on the others): the rule must match on job and instance only.
    window = f'cloudios_agent_reporting_window_seconds{{namespace="cloudios-system",{TARGET}}}'
    last = "cloudios_agent_last_report_timestamp_seconds"
    return {
        "interval": "1m",
        "input_series": [
            {"series": window, "values": "600x60"},
            {"series": f'{last}{{namespace="team-a",account="edge",{TARGET}}}', "values": "0x60"},
            {"series": f'{last}{{namespace="team-a",account="busy",{TARGET}}}', "values": "0+60x60"},
        ],
        "alert_rule_test": [
            _alert("CloudiosAgentSilent", "30m"),  # exactly three windows: not yet
            _alert("CloudiosAgentSilent", "33m"),  # pending
            _alert("CloudiosAgentSilent", "40m", silent),
        ],
    }


def _dead_letters() -> dict[str, Any]:
    def dead(policy: str, count: int) -> dict[str, Any]:
        return {
            "exp_labels": {"severity": "warning", "namespace": "team-a", "policy": policy},
            "exp_annotations": {
                "summary": "Webhook deliveries of a ScanPolicy ran out of retries.",
                "description": f"ScanPolicy team-a/{policy} holds {count} webhook dead letter(s), some new "
                "within the hour; its receiver missed those events.",
                "runbook_url": DOCS + "cloudioswebhookdeadletters",
            },
        }  # fmt: skip

    name = "cloudios_webhook_dead_letters"
    return {
        "interval": "1m",
        "input_series": [
            {"series": f'{name}{{namespace="team-a",policy="p",{TARGET}}}', "values": "0x30 1x150"},
            {"series": f'{name}{{namespace="team-a",policy="old",{TARGET}}}', "values": "2x180"},
            {"series": f'{name}{{namespace="team-a",policy="clean",{TARGET}}}', "values": "0x180"},
        ],
        "alert_rule_test": [
            # A series seen for less than an hour counts as new (after an operator restart, too).
            _alert("CloudiosWebhookDeadLetters", "20m", dead("old", 2)),
            _alert("CloudiosWebhookDeadLetters", "1h10m", dead("p", 1)),
            _alert("CloudiosWebhookDeadLetters", "1h40m"),  # nothing new for an hour
        ],
    }


def _audit() -> dict[str, Any]:
    overdue = {
        "exp_labels": {"severity": "critical", "job": "cloudios", "instance": "stuck"},
        "exp_annotations": {
            "summary": "The audit log's signed checkpoints stopped.",
            "description": "No audit checkpoint was signed for 1h 20m 0s; until one is, truncation of the "
            "audit log's newest entries would go unnoticed.",
            "runbook_url": DOCS + "cloudiosauditcheckpointoverdue",
        },
    }  # fmt: skip
    last, age = (
        "cloudios_audit_last_checkpoint_timestamp_seconds",
        "cloudios_audit_checkpoint_max_age_seconds",
    )
    healthy = _values([m // 5 * 300 for m in range(100)])  # a checkpoint every five minutes
    return {
        "interval": "1m",
        "input_series": [
            {"series": f'{last}{{job="cloudios",instance="healthy"}}', "values": healthy},
            {"series": f'{age}{{job="cloudios",instance="healthy"}}', "values": "3900x100"},
            {"series": f'{last}{{job="cloudios",instance="stuck"}}', "values": "0x100"},
            {"series": f'{age}{{job="cloudios",instance="stuck"}}', "values": "3900x100"},
            # No audit trail (no webhooks, no keys): both gauges stay 0, nothing to be late for.
            {"series": f'{last}{{job="cloudios",instance="off"}}', "values": "0x100"},
            {"series": f'{age}{{job="cloudios",instance="off"}}', "values": "0x100"},
        ],
        "alert_rule_test": [
            _alert("CloudiosAuditCheckpointOverdue", "70m"),  # 65 min old: pending
            _alert("CloudiosAuditCheckpointOverdue", "80m", overdue),
        ],
    }


def unit_tests() -> dict[str, Any]:
    return {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "1m",
        "tests": [SCAN_STALE, _credentials(), _agents(), _dead_letters(), _audit()],
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


def _write(tmp_path: Path, rules: dict[str, Any]) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules, sort_keys=False))
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(unit_tests(), sort_keys=False))


def test_the_rendered_alerts_pass_promtool_check_and_unit_tests(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    rules = _rules(control_plane)
    assert [r["alert"] for g in rules["groups"] for r in g["rules"]] == ALERTS
    tested = {t["alertname"] for group in unit_tests()["tests"] for t in group["alert_rule_test"]}
    assert tested == set(ALERTS), "every shipped alert has a unit test"
    _write(tmp_path, rules)
    checked = _promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in checked.stdout
    result = _promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_extra_rules_from_values_are_appended(control_plane: ControlPlane, tmp_path: Path) -> None:
    extra = tmp_path / "values.yaml"
    extra.write_text(
        yaml.safe_dump({"metrics": {"prometheusRule": {"enabled": True, "rules": [
            {"alert": "MyCloudiosAlert", "expr": "up == 0", "labels": {"severity": "info"}},
        ]}}})
    )  # fmt: skip
    docs = render(control_plane, "-f", str(extra), "--set", "masterKey.existingSecret=x")
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    assert [r["alert"] for r in rule["spec"]["groups"][0]["rules"]] == [*ALERTS, "MyCloudiosAlert"]


@pytest.mark.parametrize("alert", ALERTS)
def test_promtool_unit_tests_can_fail(control_plane: ControlPlane, tmp_path: Path, alert: str) -> None:
    """The same unit tests against a rule that never fires fail: each alert's test can catch a broken
    alert (here: its expression replaced by one that is never true)."""
    rules = _rules(control_plane)
    for rule in rules["groups"][0]["rules"]:
        if rule["alert"] == alert:
            rule["expr"] = "vector(1) > 2"
    _write(tmp_path, rules)
    tested = _promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert tested.returncode != 0
    assert alert in tested.stdout + tested.stderr

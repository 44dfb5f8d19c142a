"""`kubectl cloudios` without a cluster: describe() renders a Recommendation, bad arguments exit 2."""

from __future__ import annotations

from typing import Any

import pytest

from cloudios.cli import kubectl, kubectl_args, kubectl_views


def sample(**spec_overrides: Any) -> dict[str, Any]:
    """A Recommendation shaped like the ones the operator publishes (evidence from aws.ec2.idle)."""
    cpu = {
        "metric": "CPUUtilization",
        "daysWithData": 14,
        "lookbackDays": 14,
        "average": 0.8,
        "maximum": 2.1,
        "p95OfDailyP95": 1.9,
        "samples": 4032,
    }
    spec = {
        "accountRef": {"name": "prod"},
        "policyRef": {"name": "daily"},
        "findingId": "50a8d58b1979aa",
        "provider": "aws",
        "accountId": "123456789012",
        "region": "us-east-1",
        "resourceType": "ec2.instance",
        "resourceId": "i-0abc",
        "resourceName": "batch-worker",
        "module": "aws.ec2.idle",
        "category": "idle",
        "action": "stop",
        "title": "Stop idle EC2 instance batch-worker (m5.xlarge)",
        "confidence": "high",
        "current": {"instanceType": "m5.xlarge", "state": "running"},
        "proposed": {"state": "stopped"},
        "evidence": {
            "daysOfData": 14,
            "metrics": {"CPUUtilization": cpu},
            "thresholds": {"cpuAverageThreshold": 2.0, "minDays": 7},
            "spikeDays": 0,
            "autoScalingGroup": None,
            "confidenceReasons": ["network traffic was not measured"],
        },
        "monthlySavings": {"amount": "140.16", "currency": "USD"},
        "priceBasis": "list",
        **spec_overrides,
    }
    return {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "Recommendation",
        "metadata": {"name": "aws-ec2-idle-50a8d58b1979", "namespace": "team-a"},
        "spec": spec,
        "status": {"state": "Approved"},
    }


def test_describe_renders_resource_change_savings_and_evidence() -> None:
    text = kubectl_views.describe(sample())
    lines = text.splitlines()
    assert lines[0] == "Stop idle EC2 instance batch-worker (m5.xlarge)"
    assert "  resource:   ec2.instance batch-worker in us-east-1 (account 123456789012)" in lines
    assert "  module:     aws.ec2.idle (idle), confidence high" in lines
    assert "  change:     instanceType=m5.xlarge, state=running -> state=stopped" in lines
    assert "  saves:      140.16 USD per month at list prices" in lines
    assert "  state:      Approved" in lines
    assert "  evidence:   CPUUtilization: average 0.8, peak 2.1, p95 1.9 over 14 of 14 days" in lines, text
    assert "  daysOfData: 14" in lines
    assert "  thresholds: cpuAverageThreshold=2.0, minDays=7" in lines
    assert "  confidenceReasons: network traffic was not measured" in lines
    assert "autoScalingGroup" not in text  # empty values are left out
    assert "decision" not in text  # no decision yet
    assert text.endswith("\n")


def test_describe_renders_the_decision_with_identity_and_reason() -> None:
    decided = sample(
        decision={
            "type": "Dismissed",
            "reason": "kept for DR",
            "decidedBy": "alice",
            "decidedAt": "2026-01-02T03:04:05Z",
        }
    )
    text = kubectl_views.describe(decided)
    assert "  decision:   Dismissed by alice at 2026-01-02T03:04:05Z: kept for DR" in text.splitlines()


def test_describe_tolerates_a_sparse_object() -> None:
    text = kubectl_views.describe({"metadata": {"name": "r1"}, "spec": {"evidence": {"metric": "x"}}})
    assert text.splitlines()[0] == "r1"
    assert "  change:     - -> -" in text
    assert "  state:      Proposed" in text
    # A metric summary at the top level of the evidence (the older shape) is still shown.
    legacy = sample(evidence={"cpu": {"metric": "CPUUtilization", "daysWithData": 3, "lookbackDays": 30}})
    assert "CPUUtilization: average None, peak None, p95 None over 3 of 30 days" in kubectl_views.describe(
        legacy
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],  # no command
        ["approve"],  # no name
        ["frobnicate", "x"],  # unknown command
        ["summary", "--bogus"],  # unknown option
        ["--as-group", "admins", "approve", "x"],  # a group without a user to impersonate
    ],
)
def test_argument_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        kubectl.main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kubectl cloudios")
    assert "error:" in err


def test_impersonation_options_are_parsed() -> None:
    args = kubectl_args.build_parser().parse_args(
        ["--as", "alice", "--as-group", "team-a-admins", "--as-group", "ops", "approve", "r1"]
    )
    assert args.as_user == "alice"
    assert args.as_group == ["team-a-admins", "ops"]
    assert args.name == "r1"


def test_options_after_the_command_as_kubectl_accepts_them() -> None:
    args = kubectl_args.build_parser().parse_args(
        [
            "--as-group",
            "g1",
            "-n",
            "first",
            "approve",
            "r1",
            "-n",
            "team-a",
            "--as",
            "bob",
            "--as-group",
            "g2",
        ]
    )
    assert (args.command, args.name, args.namespace, args.as_user) == ("approve", "r1", "team-a", "bob")
    kept = kubectl_args.build_parser().parse_args(["-n", "team-b", "--kubeconfig", "k", "summary"])
    assert (kept.namespace, kept.kubeconfig) == ("team-b", "k")  # not reset by the subcommand


def test_an_unreadable_kubeconfig_exits_2(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.yaml"
    assert kubectl.main(["--kubeconfig", str(missing), "summary", "-n", "x"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot load kubeconfig:")

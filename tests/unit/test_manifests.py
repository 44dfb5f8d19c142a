"""Bad manifests: exit 2 with a message naming the file, the object and the field — never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudios.cli.main import main

GOOD_ACCOUNT = """\
apiVersion: cloudios.io/v1alpha1
kind: CloudAccount
metadata: {name: prod, namespace: team-a}
spec:
  provider: aws
  aws:
    accountId: "123456789012"
    roleArn: arn:aws:iam::123456789012:role/cloudios
    externalId: ext-1
    regions: [us-east-1]
"""


def run_cli(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    code = main(["scan", "-f", str(path), "--no-store", *extra])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.replace(str(path), "m.yaml")


@pytest.mark.parametrize(
    ("mutation", "field", "words"),
    [
        (("provider: aws", "provider: oracle"), "spec.provider", "aws"),
        (("    roleArn: arn:aws:iam::123456789012:role/cloudios\n", ""), "spec.aws.roleArn", "required"),
        (
            ("roleArn: arn:aws:iam::123456789012:role/cloudios", "roleArn: not-an-arn"),
            "spec.aws.roleArn",
            "pattern",
        ),
        (("regions: [us-east-1]", "regions: [mars-1]"), "spec.aws.regions", "region"),
        (('accountId: "123456789012"', 'accountId: "12"'), "spec.aws.accountId", "pattern"),
        (
            ("  provider: aws\n", "  provider: aws\n  gcp: {projectId: my-project-1}\n"),
            "spec.gcp",
            "only the 'aws' block",
        ),
        (("  provider: aws\n", "  provider: aws\n  colour: blue\n"), "spec.colour", "unknown field"),
        (("apiVersion: cloudios.io/v1alpha1", "apiVersion: cloudios.io/v9"), "apiVersion", "v1alpha1"),
    ],
)
def test_bad_account_manifest_names_file_object_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mutation: tuple[str, str], field: str, words: str
) -> None:
    old, new = mutation
    assert old in GOOD_ACCOUNT
    code, err = run_cli(tmp_path, GOOD_ACCOUNT.replace(old, new), capsys)
    assert code == 2
    assert "m.yaml: CloudAccount/prod: " + field in err
    assert words in err


@pytest.mark.parametrize("days", [0, 91, "x"])
def test_lookback_days_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], days: object) -> None:
    policy = f"""---
apiVersion: cloudios.io/v1alpha1
kind: ScanPolicy
metadata: {{name: daily, namespace: team-a}}
spec: {{lookbackDays: {days}}}
"""
    code, err = run_cli(tmp_path, GOOD_ACCOUNT + policy, capsys)
    assert code == 2
    assert "m.yaml: ScanPolicy/daily: spec.lookbackDays:" in err


def test_malformed_yaml_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(tmp_path, "apiVersion: [unclosed\nkind: CloudAccount\n", capsys)
    assert code == 2
    assert "m.yaml: line " in err
    assert "malformed YAML" in err


def test_bad_cron_and_unknown_module(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = """---
apiVersion: cloudios.io/v1alpha1
kind: ScanPolicy
metadata: {name: daily, namespace: team-a}
spec: {schedule: "every day"}
"""
    code, err = run_cli(tmp_path, GOOD_ACCOUNT + policy, capsys)
    assert code == 2
    assert "ScanPolicy/daily: spec.schedule: " in err
    assert "cron" in err
    policy = """---
apiVersion: cloudios.io/v1alpha1
kind: ScanPolicy
metadata: {name: daily, namespace: team-a}
spec: {modules: [{name: aws.ec2.idel}]}
"""
    code, err = run_cli(tmp_path, GOOD_ACCOUNT + policy, capsys)
    assert code == 2
    assert "ScanPolicy/daily: spec.modules[0].name: unknown module 'aws.ec2.idel'" in err
    assert "aws.ec2.idle" in err  # the valid names are listed


def test_unknown_module_setting_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = """---
apiVersion: cloudios.io/v1alpha1
kind: ScanPolicy
metadata: {name: daily, namespace: team-a}
spec: {modules: [{name: aws.ec2.idle, settings: {cpuTreshold: 3}}]}
"""
    code, err = run_cli(tmp_path, GOOD_ACCOUNT + policy, capsys)
    assert code == 2
    assert "ScanPolicy/daily: spec.modules[0].settings.cpuTreshold" in err


def test_missing_file_and_no_account(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "-f", str(tmp_path / "nope.yaml"), "--no-store"]) == 2
    assert "nope.yaml: cannot read file" in capsys.readouterr().err
    code, err = run_cli(tmp_path, "", capsys)
    assert code == 2
    assert "no CloudAccount found" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scan"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["scan", "-f", "x.yaml", "-o", "pdf"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

"""Cloud tags are untrusted: `cloudios scan` shows them literally in every format, with exit codes intact."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from cloudios.emulators.aws.sample_estate import seed_estate
from tests.support.manifests import ACCOUNT, aws_manifests
from tests.support.moto import AwsEnv

pytestmark = pytest.mark.aws

REGION = "us-west-2"
CLOSE_TAG = "[/evil]"
LINK = "[link=https://attacker.example/]free-money[/link]"
SCRIPT = "<script>alert(1)</script>"
# What XML (and so the EC2 API) can carry of terminal controls: an 8-bit CSI and bidi overrides.
CONTROLS = "\u202eevil\x9b31m\u2066ok"
HOSTILE = f"{CLOSE_TAG} {LINK} {SCRIPT} {CONTROLS}"


def _manifest(tmp_path: Path) -> Path:
    return aws_manifests(tmp_path, regions=[REGION], name="tagged", lookback=14)


def _scan(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cloudios.cli.main", "scan", "-f", str(path), "--no-store", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_hostile_name_tags_are_shown_literally_in_table_json_yaml_and_html(
    aws_env: AwsEnv, tmp_path: Path
) -> None:
    seed_estate(aws_env.url, seed=3, regions=(REGION,), account_id=ACCOUNT, lookback_days=14, scale=0.3)
    ec2 = aws_env.client("ec2", ACCOUNT, REGION)
    instances = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    ec2.create_tags(Resources=instances, Tags=[{"Key": "Name", "Value": HOSTILE}])
    path = _manifest(tmp_path)

    table = _scan(path, "-o", "table")
    assert table.returncode == 0, table.stderr  # not 1 (the findings gate) and no traceback
    assert "Traceback" not in table.stderr
    flat = " ".join(table.stdout.split())  # the table may wrap long titles
    assert CLOSE_TAG in flat
    assert "[link=https://attacker.example/]free-money[/link]" in flat
    assert "\x1b]8;" not in table.stdout  # no OSC-8 hyperlink from markup
    assert not any(c in table.stdout for c in "\x1b\u202e\x9b\u2066")

    as_json = _scan(path, "-o", "json")
    assert as_json.returncode == 0, as_json.stderr
    titles = [r["title"] for r in json.loads(as_json.stdout)["recommendations"]]
    for value in (CLOSE_TAG, LINK, SCRIPT):
        assert any(value in t for t in titles), (value, titles)
    assert any("evil31mok" in t for t in titles)  # the controls are dropped, the text kept
    assert not any(c in t for t in titles for c in "\u202e\x9b\u2066")

    as_yaml = _scan(path, "-o", "yaml")
    assert as_yaml.returncode == 0, as_yaml.stderr
    # The same data as the JSON (safe_load: no tag in a title can construct anything), and the text
    # itself has no terminal controls either.
    assert yaml.safe_load(as_yaml.stdout)["recommendations"] == json.loads(as_json.stdout)["recommendations"]
    assert not any(c in as_yaml.stdout for c in "\x1b\u202e\x9b\u2066")

    page = _scan(path, "-o", "html")
    assert page.returncode == 0, page.stderr
    assert SCRIPT not in page.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.stdout
    assert not any(c in page.stdout for c in "\x1b\u202e\x9b\u2066")


def test_an_unexpected_error_is_reported_redacted_not_as_a_raw_traceback(
    aws_env: AwsEnv, tmp_path: Path
) -> None:
    # ESC cannot travel in XML: moto's answer becomes unparseable, and botocore's error quotes it.
    ec2 = aws_env.client("ec2", ACCOUNT, REGION)
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]
    ec2.create_tags(
        Resources=[instance["InstanceId"]],
        Tags=[{"Key": "Name", "Value": "\x1b]8;;x\x1b\\"}, {"Key": "leak", "Value": "AKIAZXCVBNMASDFGHJKL"}],
    )
    result = _scan(_manifest(tmp_path), "-o", "json")
    assert result.returncode == 1  # as Python's own uncaught-exception exit, but through logging
    assert "ERROR cloudios.cli: unexpected error; please report it" in result.stderr
    assert "AKIAZXCVBNMASDFGHJKL" not in result.stderr
    assert "\x1b" not in result.stderr

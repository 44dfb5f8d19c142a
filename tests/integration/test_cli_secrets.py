"""`cloudios -v/-vv scan` against the emulator: the credentials moto issues never reach the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cloudios.emulators.aws.sample_estate import seed_estate
from tests.support.manifests import ACCOUNT, aws_manifests
from tests.support.moto import BASE_KEY_ID, BASE_SECRET, AwsEnv, issued_credentials

pytestmark = pytest.mark.aws

REGION = "us-west-2"
EXTERNAL_ID = "ext-canary-7Hq2Lx9"
SESSION_NAME = "cloudios-team-x-unseen"


def _manifest(tmp_path: Path) -> Path:
    return aws_manifests(tmp_path, regions=[REGION], external_id=EXTERNAL_ID, lookback=14)


@pytest.mark.slow
@pytest.mark.parametrize("flags", [["-v"], ["-vv"], ["-vv", "--debug-wire"]], ids=" ".join)
def test_verbose_scans_never_print_credentials_or_the_external_id(
    aws_env: AwsEnv, tmp_path: Path, flags: list[str]
) -> None:
    seed_estate(aws_env.url, seed=3, regions=(REGION,), account_id=ACCOUNT, lookback_days=14, scale=0.3)
    before = {c.access_key_id for c in issued_credentials()}
    command = [sys.executable, "-m", "cloudios.cli.main", *flags, "scan", "-f", str(_manifest(tmp_path))]
    result = subprocess.run(
        [*command, "--no-store", "-o", "json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["recommendations"]

    # What moto handed to this scan (AssumeRole with our external ID), captured from moto itself.
    issued = [c for c in issued_credentials() if c.access_key_id not in before]
    assert issued
    assert {c.session_name for c in issued} == {SESSION_NAME}
    assert {c.external_id for c in issued} == {EXTERNAL_ID}
    printed = result.stdout + result.stderr
    for creds in issued:
        for secret in (creds.access_key_id, creds.secret_access_key, creds.session_token):
            assert secret not in printed
            assert secret[:16] not in printed  # not even a piece of it
    for secret in (EXTERNAL_ID, BASE_KEY_ID, BASE_SECRET):
        assert secret not in printed

    # The levels did what they say: debug detail at -vv, wire logs only with --debug-wire (redacted).
    assert "DEBUG cloudios.pipeline.scan: collected team-x/unseen" in result.stderr
    if "--debug-wire" in flags:
        assert "botocore.endpoint" in result.stderr
        assert "[REDACTED]" in result.stderr
    else:
        assert "botocore" not in result.stderr
        assert "urllib3" not in result.stderr

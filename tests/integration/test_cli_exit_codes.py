"""`cloudios scan`'s exit codes end to end: the installed console script against a moto server.

0 scanned, 1 the findings gate, 2 bad input, 3 an account that could not be scanned (no, unknown or
refused credentials, an unreachable endpoint), each with one line that says what to do, never a
traceback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cloudios.emulators.aws.sample_estate import seed_estate
from tests.support.manifests import ACCOUNT, aws_manifests
from tests.support.moto import BASE_KEY_ID, BASE_SECRET, AwsEnv, FaultProxy, every, query_error

pytestmark = pytest.mark.aws

CLOUDIOS = str(Path(sys.executable).parent / "cloudios")
REGIONS = ("us-east-1",)


def cloudios(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The installed `cloudios` script, with the test's environment (moto endpoint, credentials)."""
    return subprocess.run(
        [CLOUDIOS, *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=300,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def assert_one_clean_error(result: subprocess.CompletedProcess[str], reason: str) -> str:
    assert "Traceback" not in result.stderr
    errors = error_lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert f"CloudAccount/unseen: {reason}: " in errors[0]
    return errors[0]


def test_zero_when_scanned_one_for_the_gate_two_for_a_bad_manifest(aws_env: AwsEnv, tmp_path: Path) -> None:
    seed_estate(aws_env.url, seed=5, regions=REGIONS, account_id=ACCOUNT, lookback_days=14, scale=0.3)
    path = aws_manifests(tmp_path, regions=REGIONS, lookback=14)
    ok = cloudios("scan", "-f", str(path), "--no-store", "-o", "yaml")
    assert ok.returncode == 0, ok.stderr
    gate = cloudios("scan", "-f", str(path), "--no-store", "-q", "--fail-on-findings")
    assert (gate.returncode, gate.stdout, gate.stderr) == (1, "", "")
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("lookbackDays: 14", "lookbackDays: 900"))
    refused = cloudios("scan", "-f", str(bad), "--no-store", "-q")
    assert refused.returncode == 2
    assert error_lines(refused.stderr) == [
        f"error: {bad}: ScanPolicy/all: spec.lookbackDays: Input should be less than or equal to 90"
    ]
    usage = cloudios("scan", "--no-such-flag")
    assert usage.returncode == 2
    assert "Traceback" not in usage.stderr


def test_no_credentials_exit_three_with_the_cli_credential_chain(aws_env: AwsEnv, tmp_path: Path) -> None:
    path = aws_manifests(tmp_path, regions=REGIONS)
    env = dict(os.environ)
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    result = cloudios("scan", "-f", str(path), "--no-store", env=env)
    assert result.returncode == 3
    line = assert_one_clean_error(result, "NoBaseCredentials")
    # The CLI's chain, not the operator's Secret: env vars, profiles, SSO, roles.
    for word in ("AWS_ACCESS_KEY_ID", "--profile", "AWS_PROFILE", "~/.aws/credentials", "aws sso login"):
        assert word in line
    assert "give the operator" not in line
    assert "set spec.aws.credentialsSecretRef" not in line


def test_a_profile_from_the_shared_files_is_used_and_an_unknown_one_exits_three(
    aws_env: AwsEnv, tmp_path: Path
) -> None:
    seed_estate(aws_env.url, seed=5, regions=REGIONS, account_id=ACCOUNT, lookback_days=14, scale=0.3)
    path = aws_manifests(tmp_path, regions=REGIONS, lookback=14)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[audit]\naws_access_key_id = {BASE_KEY_ID}\naws_secret_access_key = {BASE_SECRET}\n"
    )
    env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=str(credentials))
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    found = cloudios("scan", "-f", str(path), "--no-store", "-o", "json", "--profile", "audit", env=env)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["recommendations"]
    unknown = cloudios("scan", "-f", str(path), "--no-store", "--profile", "nope", env=env)
    assert unknown.returncode == 3
    line = assert_one_clean_error(unknown, "ProfileNotFound")
    assert "'nope'" in line
    assert "aws configure list-profiles" in line


def test_refused_credentials_exit_three(aws_env: AwsEnv, tmp_path: Path) -> None:
    path = aws_manifests(tmp_path, regions=REGIONS)
    refused = query_error("InvalidClientTokenId", "The security token included in the request is invalid.")
    proxy = FaultProxy(aws_env.url, every("sts", "AssumeRole", refused, first=100))
    try:
        result = cloudios(
            "scan", "-f", str(path), "--no-store", env=dict(os.environ, AWS_ENDPOINT_URL=proxy.url)
        )
    finally:
        proxy.close()
    assert result.returncode == 3
    line = assert_one_clean_error(result, "CredentialsInvalid")
    assert "refused with InvalidClientTokenId" in line
    assert "hint: the CLI takes base credentials from the standard AWS chain" in line
    assert BASE_SECRET not in result.stdout + result.stderr


def test_unreachable_endpoint_exit_three(aws_env: AwsEnv, tmp_path: Path) -> None:
    path = aws_manifests(tmp_path, regions=REGIONS)
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cloudios(
        "scan",
        "-f",
        str(path),
        "--no-store",
        env=dict(os.environ, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}"),
    )
    assert result.returncode == 3
    line = assert_one_clean_error(result, "EndpointUnreachable")
    assert "AWS_ENDPOINT_URL" in line

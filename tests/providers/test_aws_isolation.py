"""AWS provider: each scan sees one account only, identity is checked, no secret ever leaks."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE
from cloudios.providers.aws.auth import probe, role_session_name
from cloudios.providers.aws.collect import collect
from cloudios.providers.aws.credentials import AwsBaseCredentials
from cloudios.providers.aws.tuning import AwsTuning
from cloudios.providers.base import ProviderError
from tests.providers.aws_helpers import launch
from tests.support.moto import (
    ACCOUNT_A,
    ACCOUNT_B,
    AwsEnv,
    FaultProxy,
    every,
    query_error,
)

pytestmark = pytest.mark.aws

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDEXAMPLETOKENVALUEthatislongenoughtolooklikeone"


def _seed(env: AwsEnv, account: str, instances: int, volumes: int) -> set[str]:
    ec2: Any = env.client("ec2", account)
    ids = set(launch(ec2, instances))
    for _ in range(volumes):
        ids.add(ec2.create_volume(AvailabilityZone="us-east-1a", Size=10)["VolumeId"])
    ids |= {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}  # root volumes
    return ids


def test_a_scan_sees_only_its_own_account(aws_env: AwsEnv) -> None:
    own = {ACCOUNT_A: _seed(aws_env, ACCOUNT_A, 2, 1), ACCOUNT_B: _seed(aws_env, ACCOUNT_B, 3, 2)}

    for account, ids in own.items():
        result = collect(aws_env.request(account, kinds=[EC2_INSTANCE, EBS_VOLUME]))
        found = {r.id for r in result.snapshot.resources}
        assert found == ids
        assert {r.account_id for r in result.snapshot.resources} == {account}
        assert result.snapshot.account_id == account


def test_concurrent_scans_of_two_accounts_never_mix(aws_env: AwsEnv) -> None:
    own = {ACCOUNT_A: _seed(aws_env, ACCOUNT_A, 3, 0), ACCOUNT_B: _seed(aws_env, ACCOUNT_B, 2, 2)}
    start = threading.Barrier(6)

    def scan(account: str) -> tuple[str, set[str], set[str]]:
        start.wait(timeout=30)
        result = collect(aws_env.request(account, kinds=[EC2_INSTANCE, EBS_VOLUME], max_concurrency=2))
        return (
            account,
            {r.id for r in result.snapshot.resources},
            {r.account_id for r in result.snapshot.resources},
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(scan, [ACCOUNT_A, ACCOUNT_B] * 3))

    for account, found, tagged in outcomes:
        assert found == own[account]
        assert tagged == {account}


def test_role_in_another_account_is_an_account_mismatch(aws_env: AwsEnv) -> None:
    _seed(aws_env, ACCOUNT_B, 1, 0)
    request = aws_env.request(ACCOUNT_A, role_account=ACCOUNT_B, kinds=[EC2_INSTANCE])

    with pytest.raises(ProviderError) as caught:
        collect(request)

    assert caught.value.reason == "AccountMismatch"
    assert ACCOUNT_A in caught.value.message
    assert ACCOUNT_B in caught.value.message
    assert "accountId" in caught.value.message
    assert "roleArn" in caught.value.message


def test_assume_role_denied_names_role_and_external_id(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    denied = query_error("AccessDenied", f"User {KEY_ID} is not authorized to perform sts:AssumeRole")
    proxy = FaultProxy(aws_env.url, every("sts", "AssumeRole", denied, first=100))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        with pytest.raises(ProviderError) as caught:
            collect(aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE]))
    finally:
        proxy.close()

    error = caught.value
    assert error.reason == "AssumeRoleDenied"
    assert f"arn:aws:iam::{ACCOUNT_A}:role/cloudios-readonly" in error.message
    assert "externalId" in error.message
    assert "trust policy" in error.message
    assert proxy.count("sts", "AssumeRole") == 1  # denial is final: not retried


def test_credentials_never_appear_in_errors(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = AwsBaseCredentials(access_key_id=KEY_ID, secret_access_key=SECRET, session_token=TOKEN)
    errors: list[ProviderError] = []

    with pytest.raises(ProviderError) as mismatch:
        collect(aws_env.request(ACCOUNT_A, role_account=ACCOUNT_B, base_credentials=creds))
    errors.append(mismatch.value)

    # AWS error messages echo request details; an access-denied that quotes the key must be scrubbed.
    leaky = query_error(
        "UnauthorizedOperation", f"key {KEY_ID} secret {SECRET} token {TOKEN} may not", ec2=True
    )
    proxy = FaultProxy(aws_env.url, every("ec2", "DescribeVolumes", leaky, first=100))
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        with pytest.raises(ProviderError) as denied:
            collect(aws_env.request(ACCOUNT_A, kinds=[EBS_VOLUME], base_credentials=creds))
        errors.append(denied.value)
    finally:
        proxy.close()

    assert errors[1].reason == "PermissionDenied"
    assert "ec2:DescribeVolumes" in errors[1].message
    for error in errors:
        for text in (str(error), repr(error), error.message, repr(error.args)):
            for secret in (SECRET, TOKEN, KEY_ID):
                assert secret not in text
    assert SECRET not in repr(creds)
    assert TOKEN not in repr(creds)


def test_a_scan_leaves_the_environment_alone(aws_env: AwsEnv) -> None:
    _seed(aws_env, ACCOUNT_A, 1, 0)
    before = dict(os.environ)

    collect(aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE]))

    assert dict(os.environ) == before


def test_explicit_base_credentials_are_used_instead_of_the_environment(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    ids = _seed(aws_env, ACCOUNT_A, 1, 0)

    with pytest.raises(ProviderError) as caught:
        collect(aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE]), tuning=AwsTuning(max_attempts=1))
    assert caught.value.reason == "NoBaseCredentials"

    creds = AwsBaseCredentials(access_key_id=KEY_ID, secret_access_key=SECRET)
    result = collect(aws_env.request(ACCOUNT_A, kinds=[EC2_INSTANCE], base_credentials=creds))
    assert {r.id for r in result.snapshot.resources} <= ids


@pytest.mark.parametrize(
    ("tenant", "account"),
    [("team-a", "prod"), ("Team A/β", "prod:eu#1"), ("t" * 80, "a" * 80)],
)
def test_role_session_names_fit_sts_rules(tenant: str, account: str) -> None:
    name = role_session_name(tenant, account)

    assert name.startswith("cloudios-")
    assert 2 <= len(name) <= 64
    assert all(c.isascii() and (c.isalnum() or c in "_+=,.@-") for c in name)


def test_health_probe_returns_the_assumed_identity(aws_env: AwsEnv) -> None:
    good = aws_env.request(ACCOUNT_A).account.aws
    bad = aws_env.request(ACCOUNT_A, role_account=ACCOUNT_B).account.aws
    assert good is not None
    assert bad is not None

    arn = probe(good, tenant="team-a", account_name="prod", base_credentials=None, timeout=5)

    assert arn.startswith(f"arn:aws:sts::{ACCOUNT_A}:assumed-role/cloudios-readonly/cloudios-team-a-prod")
    with pytest.raises(ProviderError) as caught:
        probe(bad, tenant="team-a", account_name="prod", base_credentials=None, timeout=5)
    assert caught.value.reason == "AccountMismatch"

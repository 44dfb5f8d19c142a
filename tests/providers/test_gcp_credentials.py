"""GCP credentials: the Secret's JSON key, keyless impersonation, and what bad credentials report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudios.api import CloudAccount
from cloudios.emulators.gcp.server import GcpEmulator
from cloudios.pipeline import health
from cloudios.providers import registry
from cloudios.providers.base import ProviderError
from cloudios.providers.gcp import collect
from cloudios.providers.gcp.credentials import parse
from cloudios.providers.gcp.settings import GcpEndpoints
from tests.providers.gcp_helpers import FAST, key_credentials, request
from tests.support.gcp import PROJECT_A

KEY = {
    "type": "service_account",
    "client_email": "reader@proj-alpha-101.iam.gserviceaccount.com",
    "private_key": "-----BEGIN PRIVATE KEY-----\nnot-a-real-key-but-secret\n-----END PRIVATE KEY-----\n",
    "token_uri": "https://oauth2.googleapis.com/token",
}


def test_the_json_key_is_parsed_and_never_shown() -> None:
    creds = parse({"key.json": json.dumps(KEY).encode()}, secret="gcp-key", key=None)
    assert creds.client_email == KEY["client_email"]
    assert "not-a-real-key" not in repr(creds)
    assert "not-a-real-key" not in str(creds)


@pytest.mark.parametrize(
    ("data", "key", "reason", "names"),
    [
        ({}, None, "SecretKeyMissing", "'key.json'"),
        ({"sa.json": b"{}"}, "other.json", "SecretKeyMissing", "'other.json'"),
        ({"key.json": b"not json"}, None, "SecretMalformed", "not a JSON"),
        (
            {"key.json": json.dumps({**KEY, "private_key": ""}).encode()},
            None,
            "SecretMalformed",
            "private_key",
        ),
        (
            {"key.json": json.dumps({**KEY, "type": "external_account"}).encode()},
            None,
            "SecretMalformed",
            "external_account",
        ),
    ],
)
def test_bad_secrets_name_the_secret_and_key_never_a_value(
    data: dict[str, bytes], key: str | None, reason: str, names: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        parse(data, secret="gcp-key", key=key)
    assert caught.value.reason == reason
    assert names in caught.value.message
    assert "gcp-key" in caught.value.message
    assert "not-a-real-key" not in caught.value.message


def _account(project: str, **gcp: object) -> CloudAccount:
    return CloudAccount.model_validate(
        {
            "apiVersion": "cloudios.io/v1alpha1",
            "kind": "CloudAccount",
            "metadata": {"name": "gcp", "namespace": "team-a"},
            "spec": {"provider": "gcp", "gcp": {"projectId": project, **gcp}},
        }
    )


@pytest.mark.gcp
def test_a_good_key_is_verified_with_its_identity(
    gcp_emulator: GcpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in gcp_emulator.environment().items():
        monkeypatch.setenv(name, value)
    creds = key_credentials(gcp_emulator.service_account_key(PROJECT_A))
    result = health.probe(_account(PROJECT_A), credentials=creds, timeout=10)
    assert result.ok, result
    assert result.reason == health.VERIFIED
    assert creds.client_email in (result.identity or "")


@pytest.mark.gcp
def test_a_revoked_or_foreign_key_gives_credentials_invalid(
    gcp_emulator: GcpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in gcp_emulator.environment().items():
        monkeypatch.setenv(name, value)
    good = gcp_emulator.service_account_key(PROJECT_A, email=f"rotated@{PROJECT_A}.iam.gserviceaccount.com")
    other = gcp_emulator.service_account_key(PROJECT_A, email=f"rotated@{PROJECT_A}.iam.gserviceaccount.com")
    stale = {**good, "private_key": good["private_key"]}  # the first key was replaced by ``other``
    assert stale["private_key"] != other["private_key"]
    result = health.probe(_account(PROJECT_A), credentials=key_credentials(stale), timeout=10)
    assert not result.ok
    assert result.reason == "CredentialsInvalid"
    assert "BEGIN PRIVATE KEY" not in result.message


@pytest.mark.gcp
def test_a_key_without_access_to_the_project_is_permission_denied(
    gcp_emulator: GcpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in gcp_emulator.environment().items():
        monkeypatch.setenv(name, value)
    result = health.probe(
        _account(PROJECT_A), credentials=key_credentials(gcp_emulator.outsider_key(PROJECT_A)), timeout=10
    )
    assert (result.ok, result.reason) == (False, "PermissionDenied")


@pytest.mark.gcp
def test_keyless_impersonation_reads_the_project(
    gcp_emulator: GcpEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The recommended path: the operator's own identity (here ADC from a file) impersonates the reader."""
    operator_key = gcp_emulator.wire.accounts.create_key(
        "cloudios-operator@ops-project-1.iam.gserviceaccount.com", set(), gcp_emulator.token_uri
    )
    adc = tmp_path / "adc.json"
    adc.write_text(json.dumps(operator_key))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc))
    for name, value in gcp_emulator.environment().items():
        monkeypatch.setenv(name, value)
    target = gcp_emulator.reader_email(PROJECT_A)
    endpoints = GcpEndpoints.from_environment()

    with pytest.raises(ProviderError) as caught:  # not yet a token creator on the reader
        collect.collect(
            request(PROJECT_A, None, impersonateServiceAccount=target), tuning=FAST, endpoints=endpoints
        )
    assert caught.value.reason == "CredentialsInvalid"

    gcp_emulator.allow_impersonation(operator_key["client_email"], PROJECT_A)
    result = collect.collect(
        request(PROJECT_A, None, impersonateServiceAccount=target), tuning=FAST, endpoints=endpoints
    )
    assert result.snapshot.resources
    probed = registry.get("gcp").probe(
        _account(PROJECT_A, impersonateServiceAccount=target).spec,
        None,
        tenant="team-a",
        name="gcp",
        timeout=10,
    )
    assert target in probed

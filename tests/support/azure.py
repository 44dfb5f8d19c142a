"""The HTTPS Azure emulator for tests: one per session, estates and identities added per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloudios.api.cloudaccount import CloudAccountSpec
from cloudios.emulators.azure import demo
from cloudios.emulators.azure.estate import Estate
from cloudios.emulators.azure.server import AzureEmulator, Principal
from cloudios.emulators.azure.tls import make_certificates
from cloudios.providers.azure.credentials import AzureClientSecret


@dataclass
class AzureIdentity:
    """An identity the emulator accepts: tenant, client, secret, and a federated token (workload identity)."""

    tenant_id: str
    client_id: str
    secret: str
    federated_token: str

    @property
    def credentials(self) -> AzureClientSecret:
        return AzureClientSecret(value=self.secret)

    def spec(self, subscription: str, *, secret_ref: bool = True) -> CloudAccountSpec:
        azure: dict[str, object] = {
            "subscriptionId": subscription,
            "tenantId": self.tenant_id,
            "clientId": self.client_id,
        }
        if secret_ref:
            azure["clientSecretSecretRef"] = {"name": "azure-sp"}
        return CloudAccountSpec.model_validate({"provider": "azure", "azure": azure})


@pytest.fixture(scope="session")
def azure_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureEmulator]:
    emulator = AzureEmulator([], [], make_certificates(tmp_path_factory.mktemp("azure-tls"))).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def azure_env(azure_emulator: AzureEmulator, monkeypatch: pytest.MonkeyPatch) -> AzureEmulator:
    """The emulator, with the SDK's endpoint and CA settings pointing at it for this test."""
    for name, value in demo.environment(azure_emulator).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE", raising=False)
    return azure_emulator


def new_identity(emulator: AzureEmulator, *subscriptions: str) -> AzureIdentity:
    """A fresh identity allowed to read ``subscriptions`` (all of them when none are given)."""
    identity = AzureIdentity(str(uuid.uuid4()), str(uuid.uuid4()), uuid.uuid4().hex, uuid.uuid4().hex)
    emulator.allow(
        Principal(
            identity.tenant_id,
            identity.client_id,
            secret=identity.secret,
            federated_token=identity.federated_token,
            subscriptions=frozenset(subscriptions) if subscriptions else None,
        )
    )
    return identity


def serve(emulator: AzureEmulator, estate: Estate) -> Estate:
    emulator.serve(estate)
    return estate


def token_file(identity: AzureIdentity, directory: Path) -> Path:
    """The federated token file AKS workload identity mounts, for ``identity``."""
    path = directory / f"token-{identity.client_id}"
    path.write_text(identity.federated_token)
    return path

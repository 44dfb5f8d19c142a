"""Per-account Azure credentials and clients: workload/managed identity or a client secret, ARM clients.

Every scan builds its own ``TokenCredential`` from the CloudAccount: a service principal's secret
(``ClientSecretCredential``) when the account references one; otherwise the operator's own identity,
workload identity (``WorkloadIdentityCredential`` with the federated token file AKS mounts) or a
managed identity (``ManagedIdentityCredential``), always with the account's tenant and client IDs.
No ``DefaultAzureCredential``: nothing is picked up from a developer's environment by accident.

Endpoints: ``AZURE_AUTHORITY_HOST`` (azure-identity's own setting) and
``CLOUDIOS_AZURE_RESOURCE_MANAGER_URL`` (ARM, default https://management.azure.com) are read once
per scan by ``Cloud.from_environment``; tests point both at the emulator and trust its CA through
``REQUESTS_CA_BUNDLE``. Clients retry throttling (429 with Retry-After, 529 from Azure Monitor)
with exponential backoff, including on the read-only POST queries, and count every call.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import RetryPolicy, SansIOHTTPPolicy
from azure.identity import (
    AzureAuthorityHosts,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from cloudios.api.cloudaccount import AzureAccount
from cloudios.providers.azure.credentials import AzureClientSecret

PUBLIC_ARM = "https://management.azure.com"
ARM_SETTING = "CLOUDIOS_AZURE_RESOURCE_MANAGER_URL"
KNOWN_AUTHORITIES = frozenset(
    {
        AzureAuthorityHosts.AZURE_PUBLIC_CLOUD,
        AzureAuthorityHosts.AZURE_CHINA,
        AzureAuthorityHosts.AZURE_GOVERNMENT,
    }
)
RETRIES_SUFFIX = ".retries"


@dataclass(frozen=True)
class Cloud:
    """Where Entra ID and ARM answer."""

    authority_host: str = AzureAuthorityHosts.AZURE_PUBLIC_CLOUD
    resource_manager: str = PUBLIC_ARM

    @classmethod
    def from_environment(cls) -> Cloud:
        authority = os.environ.get("AZURE_AUTHORITY_HOST") or AzureAuthorityHosts.AZURE_PUBLIC_CLOUD
        arm = os.environ.get(ARM_SETTING) or PUBLIC_ARM
        if not authority.startswith("https://"):
            authority = f"https://{authority}"
        return cls(authority.rstrip("/"), arm.rstrip("/"))

    @property
    def scope(self) -> str:
        return f"{self.resource_manager}/.default"

    @property
    def known_authority(self) -> bool:
        return self.authority_host.removeprefix("https://") in KNOWN_AUTHORITIES


@dataclass(frozen=True)
class AzureTuning:
    """Retry, timeout and batching settings of one collection; tests lower the backoff."""

    retry_total: int = 8
    backoff_factor: float = 0.8
    backoff_max: int = 60
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    resources_per_call: int = 50
    """Azure Monitor multi-resource metrics: at most 50 resources of one region and type per call."""
    metrics_per_call: int = 20
    graph_page: int = 1000
    metric_calls_at_once: int = 4
    """A 50-resource, 90-day answer is ~30 MB once the SDK has deserialized it; more in flight buys
    little speed for much memory."""


def token_credential(azure: AzureAccount, secret: AzureClientSecret | None, cloud: Cloud) -> TokenCredential:
    """The account's credential: its client secret, else workload identity, else managed identity."""
    common: dict[str, Any] = {
        "authority": cloud.authority_host,
        # MSAL validates unknown authorities against login.microsoftonline.com; private and test
        # authorities (Azure Stack, the emulator) are trusted as configured instead.
        "disable_instance_discovery": not cloud.known_authority,
    }
    if secret is not None:
        return ClientSecretCredential(azure.tenant_id, azure.client_id, secret.value, **common)
    token_file = os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
    if token_file:
        return WorkloadIdentityCredential(
            tenant_id=azure.tenant_id, client_id=azure.client_id, token_file_path=token_file, **common
        )
    return ManagedIdentityCredential(client_id=azure.client_id)


class CallCounter:
    """Thread-safe counts of logical calls and HTTP attempts, keyed 'service.Operation'."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()

    def policies(self, key: str) -> dict[str, list[SansIOHTTPPolicy[Any, Any]]]:
        """Client keyword arguments that count ``key``'s calls (per call) and attempts (per retry)."""
        return {
            "per_call_policies": [_Count(self, self._calls, key)],
            "per_retry_policies": [_Count(self, self._attempts, key)],
        }

    def add(self, counter: Counter[str], key: str) -> None:
        with self._lock:
            counter[key] += 1

    def snapshot(self) -> Counter[str]:
        """Logical calls per operation plus '<op>.retries' for extra HTTP attempts."""
        with self._lock:
            result = Counter(self._calls)
            for key, attempts in self._attempts.items():
                if attempts > self._calls[key]:
                    result[key + RETRIES_SUFFIX] = attempts - self._calls[key]
        return result


class _Count(SansIOHTTPPolicy[Any, Any]):
    def __init__(self, owner: CallCounter, counter: Counter[str], key: str) -> None:
        super().__init__()
        self._owner, self._counter, self._key = owner, counter, key

    def on_request(self, request: PipelineRequest[Any]) -> None:  # noqa: ARG002 - counted, not read
        self._owner.add(self._counter, self._key)


class ReadRetryPolicy(RetryPolicy):  # type: ignore[type-arg]  # generic only in stubs
    """azure-core's retry policy that also retries POST: Resource Graph and metrics queries are reads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._method_whitelist = frozenset({*self._method_whitelist, "POST"})


@dataclass
class AccountClients:
    """Builds counted, retrying ARM clients for one account (one per thread: see ``get``)."""

    azure: AzureAccount
    credential: TokenCredential = field(repr=False)
    cloud: Cloud
    tuning: AzureTuning
    counter: CallCounter = field(repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def _options(self, key: str) -> dict[str, Any]:
        return {
            "base_url": self.cloud.resource_manager,
            "credential_scopes": [self.cloud.scope],
            "retry_policy": ReadRetryPolicy(
                retry_total=self.tuning.retry_total,
                retry_backoff_factor=self.tuning.backoff_factor,
                retry_backoff_max=self.tuning.backoff_max,
            ),
            "connection_timeout": self.tuning.connect_timeout,
            "read_timeout": self.tuning.read_timeout,
            **self.counter.policies(key),
        }

    def graph(self) -> Any:
        """This thread's Resource Graph client."""
        client = getattr(self._local, "graph", None)
        if client is None:
            from azure.mgmt.resourcegraph import ResourceGraphClient  # noqa: PLC0415 - loaded on use

            client = self._local.graph = ResourceGraphClient(
                self.credential, **self._options("resourcegraph.Resources")
            )
        return client

    def monitor(self) -> Any:
        """This thread's Azure Monitor (management) client."""
        client = getattr(self._local, "monitor", None)
        if client is None:
            from azure.mgmt.monitor import MonitorManagementClient  # noqa: PLC0415 - loaded on use

            client = self._local.monitor = MonitorManagementClient(
                self.credential, self.azure.subscription_id, **self._options("monitor.MetricsList")
            )
        return client

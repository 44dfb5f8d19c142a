"""The Azure provider object: credentials, probe, one shard per subscription, collection, role, prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cloudios.api.cloudaccount import AzureAccount, CloudAccountSpec
from cloudios.domain import Provider as ProviderName
from cloudios.modules.base import Module
from cloudios.providers.azure import credentials as azure_credentials
from cloudios.providers.base import (
    AgentReports,
    CollectRequest,
    CollectResult,
    Credentials,
    ProviderError,
    Shard,
    sdk_module,
)

if TYPE_CHECKING:
    from cloudios.pricing import PriceBook

ROLE_NAME = "Cloudios Reader"
BASELINE = ("Microsoft.Resources/subscriptions/read", "Microsoft.ResourceGraph/resources/read")


def _sdk(module: str) -> Any:
    """A module of this provider that needs its SDK, imported on first use."""
    return sdk_module("azure", module)


def _block(account: CloudAccountSpec) -> AzureAccount:
    if account.azure is None:
        raise ProviderError("InvalidAccount", "the CloudAccount has no spec.azure block")
    return account.azure


class AzureProvider:
    """Azure through workload or managed identity (recommended) or a service principal's secret."""

    name = ProviderName.AZURE
    job_environment: tuple[str, ...] = (
        "AZURE_AUTHORITY_HOST",
        "AZURE_FEDERATED_TOKEN_FILE",
        "CLOUDIOS_AZURE_RESOURCE_MANAGER_URL",
        "REQUESTS_CA_BUNDLE",
        "IDENTITY_ENDPOINT",
        "IMDS_ENDPOINT",
    )
    secret_format = f"key {azure_credentials.CLIENT_SECRET} (the service principal's client secret)"

    def credentials(self, secret_data: Mapping[str, bytes], *, secret: str, key: str | None) -> Credentials:
        return azure_credentials.parse(secret_data, secret=secret, key=key)

    def probe(
        self,
        account: CloudAccountSpec,
        credentials: Credentials | None,
        *,
        tenant: str,  # noqa: ARG002 - Entra ID sign-ins carry no caller-chosen session name
        name: str,  # noqa: ARG002
        timeout: float,
        agent_reports: AgentReports | None = None,  # noqa: ARG002 - the agent-fed provider's
    ) -> str:
        identity: str = _sdk("collect").probe(_block(account), credentials, timeout)
        return identity

    def collect(self, request: CollectRequest) -> CollectResult:
        result: CollectResult = _sdk("collect").collect(request)
        return result

    def shards(self, account: CloudAccountSpec) -> list[Shard]:
        azure = _block(account)
        return [Shard(name=azure.subscription_id, account=account, scope=())]

    def permissions(self, modules: Sequence[Module[Any]]) -> dict[str, Any]:
        """An Azure custom role definition with only the read actions the modules declare."""
        actions = sorted(
            {*BASELINE, *(p for m in modules if m.spec.provider == self.name for p in m.spec.permissions)}
        )
        return {
            "Name": ROLE_NAME,
            "IsCustom": True,
            "Description": "Read-only access Cloudios needs for the selected modules: inventory through "
            "Resource Graph and Azure Monitor metrics.",
            "Actions": actions,
            "NotActions": [],
            "DataActions": [],
            "NotDataActions": [],
            "AssignableScopes": ["/subscriptions/00000000-0000-0000-0000-000000000000"],
        }

    def price_book(self) -> PriceBook:
        from cloudios.pricing import azure  # noqa: PLC0415 - the bundled book is parsed on first use

        return azure.bundled()

    def credentials_hint(self) -> str:
        return (
            "spec.azure.clientSecretSecretRef is resolved only in the cluster; the CLI uses workload "
            "identity (AZURE_FEDERATED_TOKEN_FILE) or the managed identity with spec.azure.clientId"
        )

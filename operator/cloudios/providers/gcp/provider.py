"""The GCP provider object: credentials, probe, one shard per project, collection, custom role, prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cloudios.api.cloudaccount import CloudAccountSpec, GcpAccount
from cloudios.domain import Provider as ProviderName
from cloudios.modules.base import Module
from cloudios.providers.base import (
    AgentReports,
    CollectRequest,
    CollectResult,
    Credentials,
    ProviderError,
    Shard,
    sdk_module,
)
from cloudios.providers.gcp import credentials as gcp_credentials
from cloudios.providers.gcp.settings import ENVIRONMENT

if TYPE_CHECKING:
    from cloudios.pricing import PriceBook

ROLE_ID = "cloudiosReadOnly"
PROBE_PERMISSIONS = ("compute.projects.get",)


def _sdk(module: str) -> Any:
    """A module of this provider that needs its SDK, imported on first use."""
    return sdk_module("gcp", module)


def _block(account: CloudAccountSpec) -> GcpAccount:
    if account.gcp is None:
        raise ProviderError("InvalidAccount", "the CloudAccount has no spec.gcp block")
    return account.gcp


class GcpProvider:
    """GCP through an impersonated read-only service account (or a key); one shard per project."""

    name = ProviderName.GCP
    job_environment: tuple[str, ...] = ENVIRONMENT
    secret_format = (
        f"a service-account JSON key under key {gcp_credentials.DEFAULT_KEY} "
        "(or serviceAccountKeySecretRef.key)"
    )

    def credentials(self, secret_data: Mapping[str, bytes], *, secret: str, key: str | None) -> Credentials:
        return gcp_credentials.parse(secret_data, secret=secret, key=key)

    def probe(
        self,
        account: CloudAccountSpec,
        credentials: Credentials | None,
        *,
        tenant: str,  # noqa: ARG002 - part of the protocol; GCP audit logs name the service account
        name: str,  # noqa: ARG002
        timeout: float,
        agent_reports: AgentReports | None = None,  # noqa: ARG002 - the agent-fed provider's
    ) -> str:
        key = _sdk("collect").key_credentials(credentials)
        identity: str = _sdk("auth").probe(_block(account), key, timeout=timeout)
        return identity

    def collect(self, request: CollectRequest) -> CollectResult:
        result: CollectResult = _sdk("collect").collect(request)
        return result

    def shards(self, account: CloudAccountSpec) -> list[Shard]:
        """A project is scanned as one unit: aggregated lists and project-wide metric filters."""
        return [Shard(name=_block(account).project_id, account=account, scope=())]

    def permissions(self, modules: Sequence[Module[Any]]) -> dict[str, Any]:
        """An IAM custom role with only the read permissions the modules declare (plus the probe's)."""
        declared = {p for m in modules if m.spec.provider == self.name for p in m.spec.permissions}
        return {
            "title": "Cloudios read-only",
            "description": "Lists Compute Engine and Cloud SQL resources and reads Cloud Monitoring "
            "time series for Cloudios; no write permission.",
            "stage": "GA",
            "includedPermissions": sorted(declared | set(PROBE_PERMISSIONS)),
        }

    def price_book(self) -> PriceBook:
        from cloudios.pricing import gcp  # noqa: PLC0415 - the bundled book is parsed on first use

        return gcp.bundled()

    def credentials_hint(self) -> str:
        return (
            "spec.gcp.serviceAccountKeySecretRef is resolved only in the cluster; the CLI uses "
            "Application Default Credentials (gcloud auth application-default login, "
            "GOOGLE_APPLICATION_CREDENTIALS, Workload Identity) and spec.gcp.impersonateServiceAccount"
        )

"""The Kubernetes provider object: no cloud credentials, agent reports, one shard, a ClusterRole, prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cloudios.api.cloudaccount import CloudAccountSpec
from cloudios.domain import Provider as ProviderName
from cloudios.modules.base import Module
from cloudios.providers.base import (
    AgentReports,
    CollectRequest,
    CollectResult,
    Credentials,
    ProviderError,
    Shard,
)
from cloudios.providers.kubernetes import collect as collecting
from cloudios.providers.kubernetes import rbac

if TYPE_CHECKING:
    from cloudios.pricing import PriceBook


REFERENCES = (
    "nothing: a kubernetes CloudAccount references no Secret. The agent's cluster token is minted "
    "by the operator and written to a Secret in the account's namespace for `helm install`"
)


@dataclass(frozen=True)
class NoCredentials(Credentials):
    """A kubernetes account holds no cloud credentials: the agent authenticates with its own token."""


class KubernetesProvider:
    """An agent-fed cluster: inventory and usage come from the store, never from the cluster's API."""

    name = ProviderName.KUBERNETES
    job_environment: tuple[str, ...] = ()
    secret_format = REFERENCES

    def credentials(
        self,
        secret_data: Mapping[str, bytes],  # noqa: ARG002 - nothing to parse
        *,
        secret: str,  # noqa: ARG002
        key: str | None,  # noqa: ARG002
    ) -> Credentials:
        return NoCredentials()

    def probe(
        self,
        account: CloudAccountSpec,
        credentials: Credentials | None,  # noqa: ARG002 - the agent holds the only credential
        *,
        tenant: str,
        name: str,  # noqa: ARG002
        timeout: float,  # noqa: ARG002 - a store read, not a network call to the cluster
        agent_reports: AgentReports | None = None,
    ) -> str:
        """Whether the cluster's agent has reported, and recently; the identity names the cluster."""
        cluster = collecting.cluster_name(account)
        state = collecting.cluster_state(agent_reports, tenant, cluster)
        stale = collecting.stale_message(state, datetime.now(UTC))
        if stale is not None:
            raise ProviderError("AgentStale", stale)
        return f"the agent of cluster {cluster} (last report {state.received_at:%Y-%m-%dT%H:%M:%SZ})"

    def collect(self, request: CollectRequest) -> CollectResult:
        return collecting.collect(request)

    def shards(self, account: CloudAccountSpec) -> list[Shard]:
        """A cluster is one unit: its reports sit together in the store."""
        return [Shard(name=collecting.cluster_name(account), account=account, scope=())]

    def permissions(self, modules: Sequence[Module[Any]]) -> dict[str, Any]:
        """The agent's read-only ClusterRole for the selected modules (no cloud policy is needed)."""
        return rbac.cluster_role(
            p for m in modules if m.spec.provider == self.name for p in m.spec.permissions
        )

    def price_book(self) -> PriceBook:
        from cloudios.pricing import kubernetes  # noqa: PLC0415 - the clouds' books are parsed on first use

        return kubernetes.bundled()

    def credentials_hint(self) -> str:
        return (
            "a kubernetes CloudAccount needs no Secret: the scan reads the agent's reports from the "
            "store (--data-dir)"
        )

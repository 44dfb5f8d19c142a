"""The provider contract: one object per cloud owns credentials, probes, shards, collection, prices."""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from cloudios.api.cloudaccount import CloudAccountSpec
from cloudios.domain import Provider as ProviderName
from cloudios.domain import Snapshot
from cloudios.domain.cluster import ClusterState, ContainerUsage
from cloudios.modules.base import MetricNeed, Module

if TYPE_CHECKING:
    from cloudios.pricing import PriceBook


class Credentials:
    """Opaque credentials one provider parsed from a CloudAccount's Secret.

    Callers hold and pass them on; only the provider that made them looks inside. Subclasses keep
    secret fields out of ``repr``.
    """


@dataclass(frozen=True)
class Shard:
    """A part of one account's scan that can run on its own (AWS: one region).

    ``account`` is the spec restricted to the shard; ``scope`` names what the shard covers, so
    only findings inside it are resolved when the shard's scan no longer reports them (empty: the
    shard is the whole account, e.g. a GCP project).
    """

    name: str
    account: CloudAccountSpec
    scope: tuple[str, ...]


@dataclass(frozen=True)
class CollectRequest:
    """Everything a provider needs for one account; nothing comes from process-wide state."""

    tenant: str
    account_name: str
    account: CloudAccountSpec
    lookback_days: int
    kinds: frozenset[str]
    metrics: tuple[MetricNeed, ...]
    end: datetime
    credentials: Credentials | None = None
    agent_reports: AgentReports | None = None
    max_concurrency: int = 8


@dataclass
class CollectResult:
    """A snapshot, how many calls it took (by 'service.Operation'), and non-fatal warnings."""

    snapshot: Snapshot
    api_calls: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)


class ProviderError(Exception):
    """A scan-stopping problem with a CamelCase reason and a message that says what to fix.

    Messages must never contain secrets; they end up in status conditions and events.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def sdk_module(provider: str, module: str) -> Any:
    """``cloudios.providers.<provider>.<module>``, a module that needs the provider's SDK, imported on
    first use; a missing extra is a ProviderError saying what to install, never an ImportError."""
    try:
        return importlib.import_module(f"cloudios.providers.{provider}.{module}")
    except ImportError as exc:
        raise ProviderError(
            "ProviderSdkMissing",
            f"the {provider} SDK is not installed ({exc.name}); install cloudios[{provider}]",
        ) from None


class Provider(Protocol):
    """One cloud (or the agent-fed Kubernetes source). Implementations import their SDK lazily, so a
    missing extra is a ``ProviderError`` at first use, never an ImportError at start-up."""

    name: ProviderName
    job_environment: tuple[str, ...]
    """Environment variables the provider's SDK reads (endpoints, CA bundles, proxies) that scan Jobs
    inherit from the operator. Never credentials."""

    secret_format: str
    """What the referenced Secret must hold, for messages (e.g. 'keys a and b')."""

    def credentials(self, secret_data: Mapping[str, bytes], *, secret: str, key: str | None) -> Credentials:
        """Parse the referenced Secret's decoded data; ProviderError (SecretKeyMissing,
        SecretMalformed) naming the Secret and key, never a value."""
        ...

    def probe(
        self,
        account: CloudAccountSpec,
        credentials: Credentials | None,
        *,
        tenant: str,
        name: str,
        timeout: float,
        agent_reports: AgentReports | None = None,
    ) -> str:
        """Check that the account is reachable with its credentials; returns the identity used.

        ``agent_reports`` is the store's port, for the agent-fed provider (has the agent reported?);
        the clouds ignore it."""
        ...

    def collect(self, request: CollectRequest) -> CollectResult:
        """Inventory and metric summaries of one account (or shard)."""
        ...

    def shards(self, account: CloudAccountSpec) -> list[Shard]:
        """How one account's scan splits into independent parts (at least one)."""
        ...

    def permissions(self, modules: Sequence[Module[Any]]) -> dict[str, Any]:
        """The least-privilege policy document that lets the selected modules run."""
        ...

    def price_book(self) -> PriceBook:
        """The bundled list-price snapshot of this provider."""
        ...

    def credentials_hint(self) -> str:
        """What the CLI uses when a CloudAccount references a Secret (which only the cluster resolves)."""
        ...


class AgentReports(Protocol):
    """The agent data port: what the Kubernetes provider reads, implemented by the store and passed
    in by services, so providers never import the store. Tenant and cluster always come from the
    caller (the CloudAccount), never from report contents."""

    def cluster_state(self, tenant: str, cluster: str) -> ClusterState | None:
        """The cluster's latest inventory and history, or None if its agent never reported."""
        ...

    def container_usage(self, tenant: str, cluster: str, *, since: datetime) -> Sequence[ContainerUsage]:
        """Usage summaries (hourly and daily, agent-sampled and backfilled) starting at or after
        ``since``, oldest first."""
        ...


class ObjectStoreError(Exception):
    """The bucket refused or could not be reached; the message names the bucket and the operation."""


class ObjectStore(Protocol):
    """An S3-compatible bucket (backups): objects under a prefix."""

    def describe(self) -> str: ...

    def put(self, name: str, data: bytes) -> None: ...

    def get(self, name: str) -> bytes: ...

    def names(self) -> list[str]: ...

    def delete(self, name: str) -> None: ...

"""The provider contract: one account's request in, one snapshot plus API-call counts out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from cloudios.api.cloudaccount import CloudAccountSpec
from cloudios.domain import Snapshot
from cloudios.modules.base import MetricNeed


@dataclass(frozen=True)
class AwsBaseCredentials:
    """Static base credentials resolved from a CloudAccount's credentialsSecretRef."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


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
    base_credentials: AwsBaseCredentials | None = None
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

"""The repository interface every store implements (SQLite now, PostgreSQL with RLS later)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from cloudios.domain import Finding, ScanRecord, StoredFinding
from cloudios.domain.closed_loop import LoopRecord
from cloudios.domain.cluster import ClusterState, ContainerUsage
from cloudios.store.agent_reports import AgentActivity
from cloudios.store.cluster_tokens import TokenRecord
from cloudios.store.health import AccountRecord, HealthCheckRecord, PurgeCounts


@dataclass(frozen=True)
class ScanDiff:
    """What a scan changed: ids of new, still-present and resolved findings."""

    new: tuple[str, ...]
    seen_again: tuple[str, ...]
    resolved: tuple[str, ...]


class Repository(Protocol):
    """Tenant-scoped persistence. Every call names its tenant; no call reads across tenants."""

    def record_scan(
        self, scan: ScanRecord, findings: Sequence[Finding], *, regions: Sequence[str] | None = None
    ) -> ScanDiff:
        """Store a scan and upsert its findings; findings of the same account and modules that the
        scan no longer reports are marked resolved (with ``regions``, a scan that covered only those
        regions: only findings in them). Idempotent for the same scan id."""
        ...

    def findings(
        self, tenant: str, *, account_name: str | None = None, include_resolved: bool = False
    ) -> list[StoredFinding]: ...

    def finding(self, tenant: str, account_name: str, finding_id: str) -> StoredFinding | None:
        """One finding of one account, open or resolved; None when the store never had it."""
        ...

    def has_scans(self, tenant: str, account_name: str) -> bool:
        """Whether any scan of the account is recorded."""
        ...

    def scans(self, tenant: str, *, account_name: str | None = None) -> list[ScanRecord]: ...

    def upsert_account(
        self, *, tenant: str, name: str, provider: str, account_id: str, now: datetime
    ) -> None:
        """Create or refresh the account row; a re-created account is no longer marked deleted."""
        ...

    def mark_account_deleted(self, *, tenant: str, name: str, now: datetime) -> bool:
        """Stamp deleted_at; its data is purged once it is older than the retention period."""
        ...

    def accounts(self, tenant: str, *, include_deleted: bool = False) -> list[AccountRecord]: ...

    def record_health_check(self, check: HealthCheckRecord) -> None: ...

    def health_checks(self, tenant: str, *, account_name: str | None = None) -> list[HealthCheckRecord]: ...

    def purge_expired(
        self, *, now: datetime, retention: timedelta, usage_retention: timedelta = ...
    ) -> PurgeCounts:
        """Delete health checks older than ``retention`` and all data of accounts deleted before;
        agent usage older than ``usage_retention`` (90 days); tokens revoked or expired before."""
        ...

    # -- kubernetes accounts: cluster tokens and what their agents reported ---------------------

    def cluster_token(self, tenant: str, account_name: str) -> TokenRecord | None:
        """The account's live agent token (metadata only, never the token)."""
        ...

    def add_cluster_token(
        self,
        *,
        tenant: str,
        account_name: str,
        cluster: str,
        token: str,
        rotation: str,
        replaces: str | None,
        now: datetime,
        overlap: timedelta,
    ) -> TokenRecord:
        """Store a new live token (SHA-256 and keyring ciphertext); ``replaces`` (the live token the
        caller saw) expires after ``overlap``. LiveTokenExistsError when it changed meanwhile."""
        ...

    def reveal_cluster_token(self, tenant: str, token_id: str) -> str | None:
        """The token, decrypted, to write it into its Secret."""
        ...

    def revoke_cluster_tokens(self, tenant: str, account_name: str, *, now: datetime) -> int: ...

    def agent_activity(self, tenant: str, cluster: str) -> AgentActivity | None:
        """When the cluster's agent first and last reported."""
        ...

    def cluster_state(self, tenant: str, cluster: str) -> ClusterState | None:
        """The AgentReports port: the cluster's latest inventory and history."""
        ...

    def container_usage(self, tenant: str, cluster: str, *, since: datetime) -> Sequence[ContainerUsage]:
        """The AgentReports port: usage summaries starting at or after ``since``, oldest first."""
        ...

    def put_secret(self, tenant: str, name: str, plaintext: bytes) -> None:
        """Encrypt (security.keyring, bound to this tenant and name) and store, replacing any value."""
        ...

    def get_secret(self, tenant: str, name: str) -> bytes | None:
        """The decrypted secret, None when absent; a value that fails to decrypt raises KeyringError."""
        ...

    def delete_secret(self, tenant: str, name: str) -> bool: ...

    # -- the closed loop: each finding's baseline and observed outcome (store/outcomes.py) ---------

    def outcomes(self, tenant: str, *, account_name: str | None = None) -> list[LoopRecord]: ...

    def save_outcomes(self, tenant: str, records: Sequence[LoopRecord], *, now: datetime) -> int:
        """Insert or replace the records whose content changed; how many rows were written."""
        ...

    def close(self) -> None: ...

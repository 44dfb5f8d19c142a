"""The agent half of SqlRepository: cluster tokens, reports, the AgentReports port, their retention.

Mixed into ``SqlRepository``, which supplies the tenant transactions, the maintenance transaction
and the keyring; every method is one transaction, scoped to one tenant except the token lookup
(which crosses tenants only through the security-definer function, store/cluster_tokens.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from cloudios.domain.cluster import ClusterState
from cloudios.security.cluster_tokens import digest as token_digest
from cloudios.security.keyring import Keyring
from cloudios.store import agent_reports, cluster_tokens, schema
from cloudios.store.agent_reports import AgentActivity, Recorded
from cloudios.store.cluster_tokens import LiveTokenExistsError, TokenGrant, TokenRecord
from cloudios_agent import wire

USAGE_RETENTION = timedelta(days=90)
"""Usage summaries and batch records older than this are pruned (the longest lookback is 90 days)."""


@dataclass(frozen=True)
class AgentPurgeCounts:
    usage: int = 0
    batches: int = 0
    clusters: int = 0
    tokens: int = 0


class AgentStore:
    """Cluster tokens and agent reports over SqlRepository's transactions."""

    def tenant_transaction(self, tenant: str) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def _maintenance(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    def _ring(self) -> Keyring:
        raise NotImplementedError

    def _lookup_transaction(self) -> AbstractContextManager[sa.Connection]:
        raise NotImplementedError

    # -- cluster tokens ------------------------------------------------------------------------

    def cluster_token(self, tenant: str, account_name: str) -> TokenRecord | None:
        """The account's live token (metadata only)."""
        with self.tenant_transaction(tenant) as conn:
            return cluster_tokens.live(conn, tenant, account_name)

    def cluster_tokens(self, tenant: str, account_name: str | None = None) -> list[TokenRecord]:
        with self.tenant_transaction(tenant) as conn:
            return cluster_tokens.tokens(conn, tenant, account_name)

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
        """Store a new live token (SHA-256 and ciphertext); ``replaces``, the live token the caller
        saw, keeps working for ``overlap``. LiveTokenExistsError when the account's live token
        changed meanwhile (another writer): nothing is stored."""
        record = TokenRecord(
            tenant, cluster_tokens.new_id(), account_name, cluster, rotation, now, None, None
        )
        sealed = cluster_tokens.seal(self._ring(), tenant, record.id, token)
        try:
            with self.tenant_transaction(tenant) as conn:
                cluster_tokens.add(
                    conn, record=record, sha256=token_digest(token), ciphertext=sealed, replaces=replaces,
                    retire_at=now + overlap,
                )  # fmt: skip
        except sa.exc.IntegrityError:
            raise LiveTokenExistsError(account_name) from None
        return record

    def reveal_cluster_token(self, tenant: str, token_id: str) -> str | None:
        """The token itself (decrypted), to put it back into its Secret; None when it is gone."""
        ring = self._ring()
        with self.tenant_transaction(tenant) as conn:
            sealed = cluster_tokens.sealed(conn, tenant, token_id)
        return None if sealed is None else cluster_tokens.unseal(ring, tenant, token_id, sealed)

    def revoke_cluster_tokens(self, tenant: str, account_name: str, *, now: datetime) -> int:
        with self.tenant_transaction(tenant) as conn:
            return cluster_tokens.revoke(conn, tenant, account_name, now)

    def find_cluster_token(self, sha256: str) -> TokenGrant | None:
        """Ingest's lookup: which tenant and cluster a token's SHA-256 belongs to, in any tenant."""
        with self._lookup_transaction() as conn:
            return cluster_tokens.lookup(conn, sha256)

    # -- reports and the AgentReports port -----------------------------------------------------

    def record_report(
        self, *, tenant: str, cluster: str, report: wire.Report, received_at: datetime
    ) -> Recorded:
        """One report in one transaction; a replayed (stream, sequence) is not stored again."""
        with self.tenant_transaction(tenant) as conn:
            return agent_reports.record(
                conn, tenant=tenant, cluster=cluster, report=report, received_at=received_at
            )

    def agent_activity(self, tenant: str, cluster: str) -> AgentActivity | None:
        with self.tenant_transaction(tenant) as conn:
            return agent_reports.activity(conn, tenant, cluster)

    def cluster_state(self, tenant: str, cluster: str) -> ClusterState | None:
        with self.tenant_transaction(tenant) as conn:
            return agent_reports.cluster_state(conn, tenant, cluster)

    def container_usage(self, tenant: str, cluster: str, *, since: datetime) -> Sequence[wire.ContainerUsage]:
        with self.tenant_transaction(tenant) as conn:
            return agent_reports.container_usage(conn, tenant, cluster, since=since)


def purge(
    conn: sa.Connection, *, now: datetime, retention: timedelta, usage_retention: timedelta = USAGE_RETENTION
) -> AgentPurgeCounts:
    """Across tenants (maintenance transaction): usage and batch records older than
    ``usage_retention``; tokens revoked or expired before the retention period; the reports of
    clusters whose kubernetes CloudAccount was deleted before it, unless a live account in the same
    tenant reports under the same cluster name (a renamed account keeps its data)."""
    cutoff, usage_cutoff = now - retention, now - usage_retention
    u, b, tok, a = schema.agent_usage, schema.agent_batches, schema.cluster_tokens, schema.accounts
    usage = int(conn.execute(u.delete().where(u.c.start < usage_cutoff)).rowcount)
    batches = int(conn.execute(b.delete().where(b.c.received_at < usage_cutoff)).rowcount)
    tokens = int(
        conn.execute(
            tok.delete().where(sa.or_(tok.c.revoked_at < cutoff, tok.c.expires_at < cutoff))
        ).rowcount
    )
    kubernetes = a.c.provider == "kubernetes"
    gone = conn.execute(
        sa.select(a.c.tenant, a.c.account_id).where(kubernetes, a.c.deleted_at < cutoff)
    ).all()
    live = set(
        conn.execute(sa.select(a.c.tenant, a.c.account_id).where(kubernetes, a.c.deleted_at.is_(None)))
    )
    clusters = 0
    for tenant, cluster in {(row.tenant, row.account_id) for row in gone} - {tuple(r) for r in live}:
        clusters += 1 if agent_reports.erase_cluster(conn, tenant, cluster) else 0
    return AgentPurgeCounts(usage=usage, batches=batches, clusters=clusters, tokens=tokens)

"""Table definitions (migrated by store/migrations); tenant (namespace) is on every row from the start."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, _dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use timezone-aware UTC datetimes")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, _dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


scans = sa.Table(
    "scans",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("account_name", sa.String(253), nullable=False),
    sa.Column("policy_name", sa.String(253), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("account_id", sa.String(64), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=False),
    sa.Column("modules", sa.JSON, nullable=False),
    sa.Column("api_calls", sa.JSON, nullable=False),
    sa.Column("resources", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "id"),
    sa.Index("ix_scans_account", "tenant", "account_name", "started_at"),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("id", sa.String(40), nullable=False),
    sa.Column("account_name", sa.String(253), nullable=False),
    sa.Column("module", sa.String(100), nullable=False),
    sa.Column("category", sa.String(20), nullable=False),
    sa.Column("resource_id", sa.String(512), nullable=False),
    sa.Column("monthly_savings", sa.Numeric(18, 4), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("first_seen", UtcDateTime(), nullable=False),
    sa.Column("last_seen", UtcDateTime(), nullable=False),
    sa.Column("resolved_at", UtcDateTime(), nullable=True),
    sa.Column("last_scan_id", sa.String(36), nullable=False),
    # A finding belongs to the CloudAccount object that found it (revision 0009): two objects for one
    # cloud account, or a renamed account whose old rows are kept for the retention period, each
    # have their own rows and history under the same finding id.
    sa.PrimaryKeyConstraint("tenant", "account_name", "id"),
    sa.Index("ix_findings_account", "tenant", "account_name", "resolved_at"),
)


# Accounts and their credential health checks (migration 2). An account row outlives the
# CloudAccount object by the retention period: deleted_at marks it, the retention job purges it.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("account_id", sa.String(128), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("deleted_at", UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("tenant", "name"),
    sa.Index("ix_accounts_deleted", "deleted_at"),
)

health_checks = sa.Table(
    "health_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("account_name", sa.String(253), nullable=False),
    sa.Column("checked_at", UtcDateTime(), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Index("ix_health_checks_account", "tenant", "account_name", "checked_at"),
    sa.Index("ix_health_checks_time", "checked_at"),
)


# Audit log (migration 3): one chain for the whole log, so seq is global and gap-free. The time is
# the exact ISO 8601 text that was hashed; prev_hash is unique, so the chain cannot fork.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(512), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_events_target", "tenant", "target", "seq"),
)

# Checkpoints cover the whole log; their tenant is "" (no namespace has that name, so under row-level
# security no tenant sees them and only the verifier's role does).
audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False, server_default=""),
    sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("first_seq", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("prev_signature", sa.Text, nullable=False),
    sa.Column("key_id", sa.String(80), nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("signature", sa.Text, nullable=False, unique=True),
    # Migration 5: the id of the HMAC key that links the chain (the key itself is never stored).
    sa.Column("chain_key_id", sa.String(80), nullable=False, server_default=""),
)

# Agent data (revision 0010). Usage: one row per container of a workload, period and start, from one
# source; a later report of the same key replaces the summaries (an hour re-sent after a restart).
agent_usage = sa.Table(
    "agent_usage",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("cluster", sa.String(63), nullable=False),
    sa.Column("namespace", sa.String(63), nullable=False),
    sa.Column("workload_kind", sa.String(16), nullable=False),
    sa.Column("workload_name", sa.String(253), nullable=False),
    sa.Column("container", sa.String(63), nullable=False),
    sa.Column("period", sa.String(8), nullable=False),
    sa.Column("start", UtcDateTime(), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    # {"cpu": {samples, avg, max, p95, p99, sketch}, "memory": {...}}, the wire's summaries.
    sa.Column("summaries", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint(
        "tenant",
        "cluster",
        "namespace",
        "workload_kind",
        "workload_name",
        "container",
        "period",
        "start",
        "source",
        name="pk_agent_usage",
    ),
    sa.Index("ix_agent_usage_start", "tenant", "cluster", "start"),
    sa.Index("ix_agent_usage_retention", "start"),
)

# Batches already stored, by the agent's (stream, sequence): a replay is answered, never stored twice.
agent_batches = sa.Table(
    "agent_batches",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("cluster", sa.String(63), nullable=False),
    sa.Column("stream", sa.String(64), nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False, autoincrement=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("usage_rows", sa.Integer, nullable=False),
    sa.Column("inventory", sa.Boolean, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "cluster", "stream", "sequence", name="pk_agent_batches"),
    sa.Index("ix_agent_batches_received", "received_at"),
)

# One row per reporting cluster: its latest inventory (the wire JSON of a report holding only it) and
# what only history tells, maps of "namespace/name" -> since when (RFC 3339), kept at each inventory.
agent_inventory = sa.Table(
    "agent_inventory",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("cluster", sa.String(63), nullable=False),
    sa.Column("first_report_at", UtcDateTime(), nullable=False),
    sa.Column("last_report_at", UtcDateTime(), nullable=False),
    sa.Column("agent_version", sa.String(64), nullable=False),
    sa.Column("dropped_batches", sa.BigInteger, nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=True),
    sa.Column("taken_at", UtcDateTime(), nullable=True),
    sa.Column("inventory", sa.Text, nullable=True),
    sa.Column("claims_unmounted_since", sa.JSON, nullable=False),
    sa.Column("load_balancers_unready_since", sa.JSON, nullable=False),
    sa.Column("workloads_idle_since", sa.JSON, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "cluster", name="pk_agent_inventory"),
)

# Agent tokens of kubernetes CloudAccounts: SHA-256 for lookup, keyring ciphertext (bound to this
# table, column, tenant and id) for putting the token back into its Secret. At most one live token
# per account (no expiry, not revoked); a rotated one expires after the overlap window.
cluster_tokens = sa.Table(
    "cluster_tokens",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("id", sa.String(36), nullable=False),
    sa.Column("account_name", sa.String(253), nullable=False),
    sa.Column("cluster", sa.String(63), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("key_version", sa.BigInteger, nullable=False),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("rotation", sa.String(253), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint("tenant", "id", name="pk_cluster_tokens"),
    sa.UniqueConstraint("sha256", name="uq_cluster_tokens_sha256"),
    sa.Index("ix_cluster_tokens_account", "tenant", "account_name"),
    sa.Index(
        "uq_cluster_tokens_live",
        "tenant",
        "account_name",
        unique=True,
        postgresql_where=sa.text("expires_at IS NULL AND revoked_at IS NULL"),
        sqlite_where=sa.text("expires_at IS NULL AND revoked_at IS NULL"),
    ),
)


# Encrypted secrets (migration 5): values and the data keys that encrypt them, per tenant. Only
# security.keyring ciphertext (text form) is stored; the master keyset never enters the database.
data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("version", sa.BigInteger, nullable=False, autoincrement=False),
    sa.Column("master_version", sa.BigInteger, nullable=False),
    sa.Column("wrapped", sa.Text, nullable=False),
    sa.Column("encryptions", sa.BigInteger, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "version"),
)

secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("name", sa.String(253), nullable=False),
    sa.Column("key_version", sa.BigInteger, nullable=False),
    sa.Column("ciphertext", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "name"),
    sa.Index("ix_secrets_key", "tenant", "key_version"),
)


# Who is behind an audit pseudonym (revision 0008). The chain hashes only the pseudonym, so erasing a
# tenant deletes these rows and its entries still verify; nothing here is append-only.
audit_identities = sa.Table(
    "audit_identities",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("pseudonym", sa.String(64), nullable=False),
    sa.Column("value", sa.String(512), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "pseudonym"),
    sa.UniqueConstraint("tenant", "value", name="uq_audit_identities_value"),
)

# Webhook deliveries (revision 0011): the durable outbox. One row per (event, destination), its id the
# webhook-id every attempt carries; body is the exact JSON that is signed and sent (redacted when
# enqueued). state: pending -> delivered, or dead (a dead letter) once retrying ran out of time.
webhook_outbox = sa.Table(
    "webhook_outbox",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("id", sa.String(64), nullable=False),
    sa.Column("policy", sa.String(253), nullable=False),
    sa.Column("destination", sa.Integer, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret_name", sa.String(253), nullable=False),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
    sa.Column("deadline", UtcDateTime(), nullable=False),
    sa.Column("leased_until", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("last_error", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("tenant", "id", name="pk_webhook_outbox"),
    sa.Index("ix_webhook_outbox_due", "tenant", "policy", "state", "next_attempt_at"),
    sa.Index("ix_webhook_outbox_finished", "finished_at"),
)

# The AI verifier's answers (revision 0013): the latest per finding, with the hash of the evidence it
# was asked about, so a finding is asked again only when that changes. reason is cleaned untrusted text.
verifier_verdicts = sa.Table(
    "verifier_verdicts",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("finding_id", sa.String(40), nullable=False),
    sa.Column("policy", sa.String(253), nullable=False),
    sa.Column("evidence_hash", sa.String(64), nullable=False),
    sa.Column("verdict", sa.String(16), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("asked_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "finding_id", name="pk_verifier_verdicts"),
)

# The closed loop (revision 0012): per finding, the baseline kept when it was published and what later
# scans observed (Applied, Verified, Expired, regressions). The row is the loop's record of truth, so a
# restart or a repeated scan derives the same Recommendation status; ``payload`` is a LoopRecord.
recommendation_outcomes = sa.Table(
    "recommendation_outcomes",
    metadata,
    sa.Column("tenant", sa.String(63), nullable=False),
    sa.Column("account_name", sa.String(253), nullable=False),
    sa.Column("finding_id", sa.String(40), nullable=False),
    sa.Column("module", sa.String(100), nullable=False),
    sa.Column("state", sa.String(16), nullable=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint("tenant", "account_name", "finding_id", name="pk_recommendation_outcomes"),
)

# Every table whose rows belong to a tenant: row-level security (ENABLE and FORCE) on all of them.
TENANT_TABLES: tuple[str, ...] = tuple(sorted(t.name for t in metadata.tables.values() if "tenant" in t.c))

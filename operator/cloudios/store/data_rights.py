"""A tenant's data rights in the store: everything it holds as versioned JSON, and its erasure.

Both take a connection, so the caller chooses the transaction (one scoped to the tenant under
PostgreSQL's row-level security). The export schema is ``cloudios.io/export/v1`` (docs/operations.md):
adding a field keeps the version, renaming or removing one bumps it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cloudios.security.audit import format_time
from cloudios.store import audit_identities, schema

EXPORT_SCHEMA = "cloudios.io/export/v1"
DECISION_PREFIX = "recommendation."

# Every table holding a tenant's own data, erased with it. audit_events is kept (append-only, and
# the law allows keeping it); audit_identities is erased, which leaves its entries pseudonymous.
ERASED_TABLES = (
    schema.findings,
    schema.recommendation_outcomes,
    schema.scans,
    schema.health_checks,
    schema.accounts,
    schema.agent_usage,
    schema.agent_batches,
    schema.agent_inventory,
    schema.cluster_tokens,
    schema.webhook_outbox,
    schema.verifier_verdicts,
    schema.secrets,
    schema.data_keys,
    schema.audit_identities,
)


@dataclass(frozen=True)
class ErasureCounts:
    """Rows erased per table, and the audit entries kept (now pseudonymous)."""

    deleted: Mapping[str, int]
    audit_entries_kept: int

    def to_json(self) -> dict[str, Any]:
        return {"deleted": dict(self.deleted), "auditEntriesKept": self.audit_entries_kept}


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


def _rows(conn: sa.Connection, table: sa.Table, tenant: str, *order: sa.ColumnElement[Any]) -> list[Any]:
    return list(conn.execute(sa.select(table).where(table.c.tenant == tenant).order_by(*order)))


def export_tenant(conn: sa.Connection, tenant: str, *, now: datetime) -> dict[str, Any]:
    """The tenant's whole data as JSON-ready values (schema ``cloudios.io/export/v1``)."""
    a, h, s, f = schema.accounts, schema.health_checks, schema.scans, schema.findings
    u, sec, e = schema.agent_usage, schema.secrets, schema.audit_events
    known = audit_identities.identities(conn, tenant)
    audit = [
        audit_identities.readable(audit_identities.entry_from_row(row), known)
        for row in _rows(conn, e, tenant, e.c.seq)
    ]
    entries = [
        {
            "seq": entry.seq,
            "time": entry.time,
            "actor": entry.actor,
            "action": entry.action,
            "target": entry.target,
            "details": dict(entry.details),
            "hash": entry.hash,
        }
        for entry in audit
    ]
    return {
        "schema": EXPORT_SCHEMA,
        "tenant": tenant,
        "exportedAt": format_time(now),
        "accounts": [
            {
                "name": r.name,
                "provider": r.provider,
                "accountId": r.account_id,
                "createdAt": _time(r.created_at),
                "deletedAt": _time(r.deleted_at),
            }
            for r in _rows(conn, a, tenant, a.c.name)
        ],
        "healthChecks": [
            {
                "accountName": r.account_name,
                "checkedAt": _time(r.checked_at),
                "ok": r.ok,
                "reason": r.reason,
                "message": r.message,
            }
            for r in _rows(conn, h, tenant, h.c.checked_at, h.c.id)
        ],
        "scans": [
            {
                "id": r.id,
                "accountName": r.account_name,
                "policyName": r.policy_name,
                "provider": r.provider,
                "accountId": r.account_id,
                "startedAt": _time(r.started_at),
                "finishedAt": _time(r.finished_at),
                "modules": list(r.modules),
                "apiCalls": dict(r.api_calls),
                "resources": r.resources,
            }
            for r in _rows(conn, s, tenant, s.c.started_at, s.c.id)
        ],
        "findings": [
            {
                "id": r.id,
                "accountName": r.account_name,
                "module": r.module,
                "category": r.category,
                "resourceId": r.resource_id,
                "monthlySavings": None
                if r.monthly_savings is None
                else {"amount": format(r.monthly_savings.normalize(), "f"), "currency": r.currency},
                "firstSeen": _time(r.first_seen),
                "lastSeen": _time(r.last_seen),
                "resolvedAt": _time(r.resolved_at),
                "lastScanId": r.last_scan_id,
                "finding": r.payload,
            }
            for r in _rows(conn, f, tenant, f.c.first_seen, f.c.id)
        ],
        # The closed loop's records: each finding's baseline and what later scans saw (LoopRecord).
        "recommendationOutcomes": [
            {_camel(k): v for k, v in r.payload.items()}
            for r in _rows(
                conn, schema.recommendation_outcomes, tenant, schema.recommendation_outcomes.c.finding_id
            )
        ],
        "workloadUsage": [
            {
                "cluster": r.cluster,
                "namespace": r.namespace,
                "workload": f"{r.workload_kind}/{r.workload_name}",
                "workloadKind": r.workload_kind,
                "workloadName": r.workload_name,
                "container": r.container,
                "period": r.period,
                "start": _time(r.start),
                "source": r.source,
                "reportedAt": _time(r.received_at),
                "summary": r.summaries,
            }
            for r in _rows(conn, u, tenant, u.c.start, u.c.cluster, *u.primary_key.columns)
        ],
        **_agent_export(conn, tenant),
        "verifierVerdicts": [
            {
                "findingId": r.finding_id,
                "policy": r.policy,
                "verdict": r.verdict,
                "reason": r.reason,
                "model": r.model,
                "askedAt": _time(r.asked_at),
            }
            for r in _rows(conn, schema.verifier_verdicts, tenant, schema.verifier_verdicts.c.finding_id)
        ],
        # Names and dates only: secret values never leave the store, not even in an export.
        "secrets": [
            {"name": r.name, "createdAt": _time(r.created_at), "updatedAt": _time(r.updated_at)}
            for r in _rows(conn, sec, tenant, sec.c.name)
        ],
        "decisions": [entry for entry in entries if str(entry["action"]).startswith(DECISION_PREFIX)],
        "audit": entries,
    }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _agent_export(conn: sa.Connection, tenant: str) -> dict[str, Any]:
    """What the tenant's agents reported and its agent tokens (never a token, hash or ciphertext)."""
    i, b, t = schema.agent_inventory, schema.agent_batches, schema.cluster_tokens
    return {
        "agentClusters": [
            {
                "cluster": r.cluster,
                "firstReportAt": _time(r.first_report_at),
                "lastReportAt": _time(r.last_report_at),
                "agentVersion": r.agent_version,
                "droppedBatches": r.dropped_batches,
                "inventoryReceivedAt": _time(r.received_at),
                "inventory": None if r.inventory is None else json.loads(r.inventory).get("inventory"),
                "claimsUnmountedSince": r.claims_unmounted_since,
                "loadBalancersUnreadySince": r.load_balancers_unready_since,
                "workloadsIdleSince": r.workloads_idle_since,
            }
            for r in _rows(conn, i, tenant, i.c.cluster)
        ],
        "agentBatches": [
            {
                "cluster": r.cluster,
                "stream": r.stream,
                "sequence": r.sequence,
                "receivedAt": _time(r.received_at),
                "usageRows": r.usage_rows,
                "inventory": r.inventory,
            }
            for r in _rows(conn, b, tenant, b.c.received_at, b.c.cluster, b.c.stream, b.c.sequence)
        ],
        "clusterTokens": [
            {
                "id": r.id,
                "accountName": r.account_name,
                "cluster": r.cluster,
                "createdAt": _time(r.created_at),
                "expiresAt": _time(r.expires_at),
                "revokedAt": _time(r.revoked_at),
            }
            for r in _rows(conn, t, tenant, t.c.created_at, t.c.id)
        ],
    }


def erase_tenant(conn: sa.Connection, tenant: str) -> ErasureCounts:
    """Delete every row of the tenant except its audit entries, whose identities are forgotten."""
    deleted = {
        table.name: int(conn.execute(table.delete().where(table.c.tenant == tenant)).rowcount)
        for table in ERASED_TABLES
    }
    e = schema.audit_events
    kept = conn.scalar(sa.select(sa.func.count()).select_from(e).where(e.c.tenant == tenant))
    return ErasureCounts(deleted=deleted, audit_entries_kept=int(kept or 0))

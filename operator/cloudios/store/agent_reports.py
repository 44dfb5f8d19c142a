"""Agent-reported workload usage: ingest writes it, the Kubernetes provider reads it (AgentReports)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from cloudios.domain.workload import WorkloadUsage
from cloudios.store import schema


def record(
    conn: sa.Connection,
    *,
    tenant: str,
    cluster: str,
    reported_at: datetime,
    usage: Sequence[tuple[str, str, str, Mapping[str, Any]]],
) -> int:
    """Store one report's (namespace, workload, container, summary) rows; returns how many."""
    rows = [
        {
            "tenant": tenant,
            "cluster": cluster,
            "namespace": namespace,
            "workload": workload,
            "container": container,
            "reported_at": reported_at,
            "summary": dict(summary),
        }
        for namespace, workload, container, summary in usage
    ]
    if rows:
        conn.execute(schema.agent_usage.insert(), rows)
    return len(rows)


def workload_usage(conn: sa.Connection, tenant: str, cluster: str, *, since: datetime) -> list[WorkloadUsage]:
    """The tenant's cluster's usage rows reported at or after ``since``, oldest first."""
    t = schema.agent_usage
    query = (
        sa.select(t.c.namespace, t.c.workload, t.c.container, t.c.summary)
        .where(t.c.tenant == tenant, t.c.cluster == cluster, t.c.reported_at >= since)
        .order_by(t.c.reported_at, t.c.namespace, t.c.workload, t.c.container)
    )
    return [
        WorkloadUsage(cluster, row.namespace, row.workload, row.container, dict(row.summary))
        for row in conn.execute(query)
    ]

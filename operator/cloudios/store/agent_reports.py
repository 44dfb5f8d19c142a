"""Agent reports in SQL: ingest writes each report in one transaction; the Kubernetes provider reads
them through the AgentReports port (``cluster_state``, ``container_usage``).

A report is stored once per (tenant, cluster, stream, sequence): its batch row goes in first, and a
replay finds it there and writes nothing else. Usage rows are keyed by container, period, start and
source, so a re-sent hour replaces its summaries. The inventory is kept when it is at least as new
as the stored one (a batch queued while ingest was down may arrive after a newer one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from cloudios.domain.cluster import ClusterState
from cloudios.store import agent_history, schema
from cloudios_agent import wire
from cloudios_agent.sketch import Sketch

USAGE_KEY = (
    "tenant",
    "cluster",
    "namespace",
    "workload_kind",
    "workload_name",
    "container",
    "period",
    "start",
    "source",
)


@dataclass(frozen=True)
class Recorded:
    """What storing one report did."""

    duplicate: bool
    usage_rows: int = 0
    inventory: bool = False
    """The report's inventory became the cluster's latest."""


@dataclass(frozen=True)
class AgentActivity:
    """When a cluster's agent reported, and what it said about itself."""

    cluster: str
    first_report_at: datetime
    last_report_at: datetime
    agent_version: str
    dropped_batches: int
    inventory_at: datetime | None
    """When the latest inventory was received (None: usage only so far)."""


def _insert(conn: sa.Connection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _summary_json(s: wire.Summary) -> dict[str, Any]:
    return {"samples": s.samples, "avg": s.avg, "max": s.max, "p95": s.p95, "p99": s.p99,
            "sketch": s.sketch.to_wire()}  # fmt: skip


def _summary(d: Mapping[str, Any]) -> wire.Summary:
    samples, avg, peak = int(d["samples"]), float(d["avg"]), float(d["max"])
    sketch = Sketch.from_wire(d["sketch"], count=samples, total=avg * samples, peak=peak)
    return wire.Summary(samples, avg, peak, float(d["p95"]), float(d["p99"]), sketch)


def _usage_rows(
    tenant: str, cluster: str, report: wire.Report, received_at: datetime
) -> list[dict[str, Any]]:
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for u in report.usage:  # one row per key: the last of a report's repeats wins
        row = {
            "tenant": tenant, "cluster": cluster, "namespace": u.namespace, "workload_kind": u.workload_kind,
            "workload_name": u.workload_name, "container": u.container, "period": u.period,
            "start": u.start, "source": u.source, "received_at": received_at,
            "summaries": {"cpu": _summary_json(u.cpu), "memory": _summary_json(u.memory)},
        }  # fmt: skip
        rows[tuple(row[k] for k in USAGE_KEY)] = row
    return list(rows.values())


def inventory_text(report: wire.Report) -> str:
    """The inventory as stored: the wire JSON of a report holding only it (read back by the parser)."""
    only = wire.Report(report.stream, report.sequence, report.sent_at, report.agent_version, report.inventory)
    return wire.encode_report(only).decode("utf-8")


def record(
    conn: sa.Connection, *, tenant: str, cluster: str, report: wire.Report, received_at: datetime
) -> Recorded:
    """Store one report (tenant and cluster from its token); a replay is found and not stored again."""
    batch = (
        _insert(conn, schema.agent_batches)
        .values(
            tenant=tenant,
            cluster=cluster,
            stream=report.stream,
            sequence=report.sequence,
            received_at=received_at,
            usage_rows=len(report.usage),
            inventory=report.inventory is not None,
        )
        .on_conflict_do_nothing(index_elements=["tenant", "cluster", "stream", "sequence"])
        .returning(schema.agent_batches.c.sequence)  # rowcount of ON CONFLICT is not portable
    )
    if conn.execute(batch).first() is None:
        return Recorded(duplicate=True)
    usage = _usage_rows(tenant, cluster, report, received_at)
    if usage:
        upsert = _insert(conn, schema.agent_usage)
        conn.execute(
            upsert.on_conflict_do_update(
                index_elements=list(USAGE_KEY),
                set_={"summaries": upsert.excluded.summaries, "received_at": upsert.excluded.received_at},
            ),
            usage,
        )
    return Recorded(
        duplicate=False,
        usage_rows=len(usage),
        inventory=_update_cluster(conn, tenant, cluster, report, received_at),
    )


def _update_cluster(
    conn: sa.Connection, tenant: str, cluster: str, report: wire.Report, received_at: datetime
) -> bool:
    t = schema.agent_inventory
    mine = (t.c.tenant == tenant, t.c.cluster == cluster)
    conn.execute(
        _insert(conn, t)
        .values(
            tenant=tenant,
            cluster=cluster,
            first_report_at=received_at,
            last_report_at=received_at,
            agent_version=report.agent_version,
            dropped_batches=report.dropped_batches,
            claims_unmounted_since={},
            load_balancers_unready_since={},
            workloads_idle_since={},
        )
        .on_conflict_do_nothing(index_elements=["tenant", "cluster"])
    )
    row = conn.execute(sa.select(t).where(*mine).with_for_update()).one()  # reports of one cluster queue
    values: dict[str, Any] = {
        "last_report_at": max(row.last_report_at, received_at),
        "agent_version": report.agent_version,
        "dropped_batches": report.dropped_batches,
    }
    inventory = report.inventory
    newer = inventory is not None and (row.taken_at is None or inventory.taken_at >= row.taken_at)
    if inventory is not None and newer:
        previous = agent_history.History(
            dict(row.claims_unmounted_since or {}),
            dict(row.load_balancers_unready_since or {}),
            dict(row.workloads_idle_since or {}),
        )
        history = agent_history.advance(previous, inventory, at=min(inventory.taken_at, received_at))
        values |= {
            "received_at": received_at,
            "taken_at": inventory.taken_at,
            "inventory": inventory_text(report),
            "claims_unmounted_since": history.claims_unmounted_since,
            "load_balancers_unready_since": history.load_balancers_unready_since,
            "workloads_idle_since": history.workloads_idle_since,
        }
    conn.execute(t.update().where(*mine).values(**values))
    return newer


def activity(conn: sa.Connection, tenant: str, cluster: str) -> AgentActivity | None:
    t = schema.agent_inventory
    row = conn.execute(
        sa.select(
            t.c.first_report_at, t.c.last_report_at, t.c.agent_version, t.c.dropped_batches, t.c.received_at
        ).where(t.c.tenant == tenant, t.c.cluster == cluster)
    ).first()
    if row is None:
        return None
    return AgentActivity(
        cluster,
        row.first_report_at,
        row.last_report_at,
        row.agent_version,
        row.dropped_batches,
        row.received_at,
    )


def cluster_state(conn: sa.Connection, tenant: str, cluster: str) -> ClusterState | None:
    """The port: the cluster's latest inventory and history; None before its first inventory."""
    t = schema.agent_inventory
    row = conn.execute(sa.select(t).where(t.c.tenant == tenant, t.c.cluster == cluster)).first()
    if row is None or row.inventory is None or row.received_at is None:
        return None
    inventory = wire.parse_report(json.loads(row.inventory)).inventory
    assert inventory is not None  # stored only with one
    return ClusterState(
        cluster=cluster,
        inventory=inventory,
        received_at=row.received_at,
        first_report_at=row.first_report_at,
        claims_unmounted_since=agent_history.as_times(row.claims_unmounted_since),
        load_balancers_unready_since=agent_history.as_times(row.load_balancers_unready_since),
        workloads_idle_since=agent_history.as_times(row.workloads_idle_since),
    )


def container_usage(
    conn: sa.Connection, tenant: str, cluster: str, *, since: datetime
) -> Sequence[wire.ContainerUsage]:
    """The port: usage summaries starting at or after ``since``, oldest first."""
    t = schema.agent_usage
    query = (
        sa.select(t)
        .where(t.c.tenant == tenant, t.c.cluster == cluster, t.c.start >= since)
        .order_by(
            *(
                t.c[k]
                for k in (
                    "start",
                    "namespace",
                    "workload_kind",
                    "workload_name",
                    "container",
                    "period",
                    "source",
                )
            )
        )
    )
    return [
        wire.ContainerUsage(
            namespace=r.namespace,
            workload_kind=r.workload_kind,
            workload_name=r.workload_name,
            container=r.container,
            period=r.period,
            start=r.start,
            source=r.source,
            cpu=_summary(r.summaries["cpu"]),
            memory=_summary(r.summaries["memory"]),
        )
        for r in conn.execute(query)
    ]


def erase_cluster(conn: sa.Connection, tenant: str, cluster: str) -> int:
    """Delete a cluster's reports (its CloudAccount was deleted and the retention period passed)."""
    return sum(
        int(conn.execute(t.delete().where(t.c.tenant == tenant, t.c.cluster == cluster)).rowcount)
        for t in (schema.agent_usage, schema.agent_batches, schema.agent_inventory)
    )

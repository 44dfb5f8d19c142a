"""What the store knows of one agent-fed cluster, as the Kubernetes provider reads it (AgentReports).

The inventory is the agent's latest snapshot; the ``*_since`` maps are what only history can tell
(kept by ingest across reports, keyed ``namespace/name``): since when a claim has been mounted by no
pod, since when a LoadBalancer Service has had no ready endpoint, since when a workload has had zero
replicas. A key absent from a map means the condition does not hold at the latest report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cloudios_agent.wire import ContainerUsage, Inventory

__all__ = ["ClusterState", "ContainerUsage", "Inventory"]


@dataclass(frozen=True)
class ClusterState:
    """The latest inventory of one cluster and what history adds to it."""

    cluster: str
    inventory: Inventory
    received_at: datetime
    first_report_at: datetime
    """When ingest stored this cluster's first report (how much history there can be)."""
    claims_unmounted_since: Mapping[str, datetime] = field(default_factory=dict)
    load_balancers_unready_since: Mapping[str, datetime] = field(default_factory=dict)
    workloads_idle_since: Mapping[str, datetime] = field(default_factory=dict)
    """Workloads scaled to zero replicas (or with no running pod) since then."""

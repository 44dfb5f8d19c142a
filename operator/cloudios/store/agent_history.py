"""What only history tells about a cluster, kept from one inventory to the next (pure, no SQL).

Each map is ``"namespace/name" -> since when`` (RFC 3339 text in the store). A key stays with its
first time as long as every inventory shows the condition; an inventory without it drops the key,
so a claim mounted again starts over. ``at`` is when the inventory was taken (never after ingest
received it), so a batch the agent queued while ingest was down still dates the condition right.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cloudios_agent.wire import Inventory

MOUNTING_PHASES = frozenset({"Pending", "Running", "Unknown"})
"""Pods in these phases hold their claims; a Succeeded or Failed pod no longer uses its volume."""


@dataclass(frozen=True)
class History:
    """The three maps of ``domain.cluster.ClusterState``, as stored (RFC 3339 values)."""

    claims_unmounted_since: dict[str, str]
    load_balancers_unready_since: dict[str, str]
    workloads_idle_since: dict[str, str]


def _key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


def to_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _carry(previous: Mapping[str, str], present: Iterable[str], at: datetime) -> dict[str, str]:
    now = to_text(at)
    return {key: str(previous.get(key, now)) for key in sorted(set(present))}


def unmounted_claims(inventory: Inventory) -> set[str]:
    mounted = {
        _key(pod.namespace, claim)
        for pod in inventory.pods
        if pod.phase in MOUNTING_PHASES
        for claim in pod.claims
    }
    return {_key(c.namespace, c.name) for c in inventory.claims} - mounted


def unready_load_balancers(inventory: Inventory) -> set[str]:
    return {_key(lb.namespace, lb.name) for lb in inventory.load_balancers if lb.ready_endpoints == 0}


def idle_workloads(inventory: Inventory) -> set[str]:
    """Workloads scaled to zero, or with no running pod (keyed ``namespace/name`` as the port says)."""
    running = {
        (p.namespace, p.workload_kind, p.workload_name) for p in inventory.pods if p.phase == "Running"
    }
    return {
        _key(w.namespace, w.name)
        for w in inventory.workloads
        if w.replicas == 0 or (w.namespace, w.kind, w.name) not in running
    }


def advance(previous: History | None, inventory: Inventory, *, at: datetime) -> History:
    """The maps after ``inventory``, carrying the first times of conditions that still hold."""
    before = previous or History({}, {}, {})
    return History(
        claims_unmounted_since=_carry(before.claims_unmounted_since, unmounted_claims(inventory), at),
        load_balancers_unready_since=_carry(
            before.load_balancers_unready_since, unready_load_balancers(inventory), at
        ),
        workloads_idle_since=_carry(before.workloads_idle_since, idle_workloads(inventory), at),
    )


def as_times(stored: Mapping[str, str] | None) -> dict[str, datetime]:
    return {key: from_text(value) for key, value in (stored or {}).items()}

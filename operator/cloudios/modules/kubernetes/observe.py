"""How the Kubernetes modules' proposals show in a later scan's inventory (modules.outcomes). Pure.

- k8s.workload.rightsize: every changed container's requests against the proposal (within the
  tolerance: Applied; as before: Unchanged; else ChangedDifferently).
- k8s.workload.abandoned (scale to zero or delete): the workload gone, or at zero replicas (or no
  running pod): Applied; fewer running pods but not zero: ChangedDifferently; else Unchanged.
- k8s.node.underutilized (drain and remove): the node gone: Applied; cordoned but still there (it
  still bills): ChangedDifferently; else Unchanged.
- k8s.pvc.unused (delete the claim, or the Released volume): gone: Applied; else Unchanged.
- k8s.service.lb_idle (delete the Service, or change its type): gone from the inventory, which
  lists only Services of type LoadBalancer: Applied; else Unchanged.
"""

from __future__ import annotations

import re
from typing import Any

from cloudios.domain import Finding, Resource, Snapshot
from cloudios.domain import kubernetes as k8s
from cloudios.modules.observation import Observation, Outcome

REQUEST_TOLERANCE = 0.05
"""Container requests within 5% of the proposal (or 10m CPU / 16 MiB memory) count as applied."""
CPU_SLACK_M, MEMORY_SLACK_BYTES = 10, 16 * 1024 * 1024

_UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


def parse_cpu(text: str) -> int:
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def parse_memory(text: str) -> int:
    found = re.fullmatch(r"(\d+)(Ki|Mi|Gi|Ti)?", text)
    if found is None:
        raise ValueError(f"not a memory quantity: {text!r}")
    return int(found.group(1)) * _UNITS.get(found.group(2) or "", 1)


def _close(seen: int | None, want: int, slack: int) -> bool:
    return seen is not None and abs(seen - want) <= max(slack, want * REQUEST_TOLERANCE)


def requests(finding: Finding, workload: Resource | None, snapshot: Snapshot) -> Observation:
    """k8s.workload.rightsize: every changed container's requests against the proposal."""
    if workload is None:
        return Observation(Outcome.RESOURCE_GONE, {}, "the workload is no longer in the cluster's inventory")
    containers = {str(c.attr("container")): c for c in snapshot.of_kind(k8s.K8S_CONTAINER)
                  if c.attr("workload") == workload.id}  # fmt: skip
    observed: dict[str, Any] = {}
    matches, unchanged = True, True
    current = finding.current.get("containers") or {}
    for name, want in (finding.proposed.get("containers") or {}).items():
        found = containers.get(name)
        asked_for = (found.attr("requests") or {}) if found is not None else {}
        seen = {"cpuM": asked_for.get("cpuM"), "memoryBytes": asked_for.get("memoryBytes")}
        observed[name] = {"requests": seen}
        asked = want.get("requests") or {}
        before = (current.get(name) or {}).get("requests") or {}
        for key, parse, slack, unit in (
            ("cpu", parse_cpu, CPU_SLACK_M, "cpuM"),
            ("memory", parse_memory, MEMORY_SLACK_BYTES, "memoryBytes"),
        ):
            if key in asked:
                matches &= _close(seen[unit], parse(asked[key]), slack)
            if key in before:
                unchanged &= _close(seen[unit], parse(before[key]), 0)
    if matches:
        return Observation(Outcome.APPLIED, {"containers": observed}, "requests match the proposal")
    if unchanged:
        return Observation(Outcome.UNCHANGED, {"containers": observed}, "requests are unchanged")
    return Observation(
        Outcome.CHANGED_DIFFERENTLY, {"containers": observed}, "requests changed, but not to the proposal"
    )


def _gone(what: str) -> Observation:
    return Observation(
        Outcome.APPLIED, {"present": False}, f"the {what} is gone from the cluster's inventory"
    )


def scaled_to_zero(finding: Finding, workload: Resource | None, snapshot: Snapshot) -> Observation:
    """k8s.workload.abandoned: gone or at zero replicas is Applied; scaled down, not to zero, is not."""
    del snapshot
    if workload is None:
        return _gone("workload")
    replicas, running = workload.attr("replicas"), workload.attr("runningPods")
    seen = {"replicas": replicas, "runningPods": running}
    if replicas == 0 or (replicas is None and running == 0):
        return Observation(Outcome.APPLIED, seen, "scaled to zero replicas")
    before = finding.current.get("runningPods")
    if isinstance(running, int) and isinstance(before, int) and 0 < running < before:
        return Observation(
            Outcome.CHANGED_DIFFERENTLY, seen, f"scaled down to {running} running pod(s), not to zero"
        )
    return Observation(Outcome.UNCHANGED, seen, f"still {running} running pod(s)")


def drained(finding: Finding, node: Resource | None, snapshot: Snapshot) -> Observation:
    """k8s.node.underutilized: the node gone is Applied; cordoned but still there still bills."""
    del finding, snapshot
    if node is None:
        return _gone("node")
    if node.attr("unschedulable"):
        return Observation(
            Outcome.CHANGED_DIFFERENTLY,
            {"present": True, "unschedulable": True},
            "cordoned but not removed: the node still bills",
        )
    return Observation(
        Outcome.UNCHANGED, {"present": True, "unschedulable": False}, "the node is still there"
    )


def claim_deleted(finding: Finding, claim: Resource | None, snapshot: Snapshot) -> Observation:
    """k8s.pvc.unused: the claim (or the Released volume) gone is Applied."""
    del claim
    found = next((r for r in snapshot.of_kind(finding.resource_type) if r.id == finding.resource_id), None)
    what = "volume" if finding.resource_type == k8s.K8S_VOLUME else "claim"
    if found is None:
        return _gone(what)
    return Observation(Outcome.UNCHANGED, {"present": True}, f"the {what} is still there")


def balancer_removed(finding: Finding, service: Resource | None, snapshot: Snapshot) -> Observation:
    """k8s.service.lb_idle: the inventory lists only Services of type LoadBalancer, so one no longer in
    it was deleted or changed to another type: Applied."""
    del finding, snapshot
    if service is None:
        return Observation(
            Outcome.APPLIED,
            {"present": False},
            "no LoadBalancer Service by that name any more: deleted, or its type changed",
        )
    return Observation(Outcome.UNCHANGED, {"present": True}, "still a LoadBalancer Service")

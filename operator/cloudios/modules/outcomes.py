"""How each module's proposal shows in a later scan's inventory, and the signals that say a change hurt.

Pure, like the modules: a stored finding and a snapshot in, an observation out. Each covered module
declares a ``Watch`` (``WATCHES``: every module today; the Kubernetes observers are in
modules.kubernetes.observe); a module without one would never be observed as Applied (its
Recommendation would keep the states a scan and a decision give it) — docs/operator.md lists them.

Outcomes of comparing the resource with the proposal:
- ``Applied``: the resource now matches the proposal (instance type or volume type changed to the
  proposed one, state stopped, requests lowered to the proposal within the tolerance), or — for a
  removal (delete, release, stop) — the resource is gone from the inventory.
- ``ChangedDifferently``: the compared attribute changed, but not to the proposal (resized to another
  type). Reported with the observed value, never Applied.
- ``Unchanged``: the resource is still as it was.
- ``ResourceGone``: a resize or modify proposal whose resource vanished (terminated, replaced): its
  own outcome, neither Applied nor Unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudios.domain import Action, Finding, Metric, Resource, Snapshot, azure, gcp
from cloudios.domain import kubernetes as k8s
from cloudios.domain import resource as kinds
from cloudios.modules.kubernetes import observe as observe_k8s
from cloudios.modules.observation import Observation, Outcome

__all__ = [
    "LB_ERRORS",
    "LB_ERROR_METRICS",
    "REMOVALS",
    "WATCHES",
    "Observation",
    "Outcome",
    "Thresholds",
    "Watch",
    "covered",
    "find",
    "observe",
    "regressions",
    "signals_watched",
    "watch_kind",
]


@dataclass(frozen=True)
class Thresholds:
    """When a post-change signal counts as a regression."""

    cpu_saturation_percent: float = 90.0
    memory_pressure_percent: float = 95.0
    lb_error_percent: float = 1.0
    """Load-balancer 5xx ratio after the change (percent of requests) at or under which nothing is raised."""
    lb_error_growth: float = 2.0
    """How many times the before ratio the after ratio must reach to count as a regression."""


@dataclass(frozen=True)
class Watch:
    """How one module's proposal is observed.

    ``keys``: attributes compared with ``proposed`` (resize and modify). ``applied_states``: values of
    ``state_key`` that mean the proposal was carried out in place (an instance stopped). ``removal``:
    the resource leaving the inventory (or entering one of ``gone_states``) means Applied.
    ``signals``: the regression signals read after the change.
    """

    kind: str
    keys: tuple[str, ...] = ()
    removal: bool = False
    state_key: str = "state"
    applied_states: frozenset[str] = frozenset()
    gone_states: frozenset[str] = frozenset({"deleted", "deleting", "terminated", "shutting-down"})
    signals: tuple[str, ...] = ()
    observe: Callable[[Finding, Resource | None, Snapshot], Observation] | None = field(
        default=None, repr=False
    )


CPU, MEMORY, RDS_MEMORY, OOM, LB_ERRORS = "cpu", "memory", "rds-memory", "oom", "lb-errors"
_INSTANCE = Watch(kinds.EC2_INSTANCE, keys=("instanceType",), signals=(CPU, MEMORY, LB_ERRORS))

LB_ERROR_METRICS = (Metric.REQUEST_COUNT, Metric.LB_TARGET_5XX_COUNT, Metric.LB_5XX_COUNT)
"""What the LB_ERRORS signal reads of each load balancer (pipeline.scan asks for them when it is watched)."""
_DB = Watch(kinds.RDS_INSTANCE, keys=("dbInstanceClass",), signals=(CPU, RDS_MEMORY))
_VOLUME_TYPE = Watch(kinds.EBS_VOLUME, keys=("volumeType",))


def _removal(kind: str) -> Watch:
    return Watch(kind, removal=True)


_WORKLOAD = Watch(k8s.K8S_WORKLOAD, signals=(OOM, CPU), observe=observe_k8s.requests)
_DEALLOCATED = Watch(
    azure.VM, removal=True, state_key="powerState", applied_states=frozenset({"deallocated", "deallocating"})
)

WATCHES: dict[str, Watch] = {
    "aws.ec2.rightsize": _INSTANCE,
    "aws.ec2.previous_generation": _INSTANCE,
    "aws.ec2.graviton": _INSTANCE,
    "aws.ec2.idle": Watch(
        kinds.EC2_INSTANCE, removal=True, applied_states=frozenset({"stopped", "stopping"})
    ),
    "aws.rds.rightsize": _DB,
    "aws.rds.previous_generation": _DB,
    "aws.rds.idle": Watch(
        kinds.RDS_INSTANCE,
        removal=True,
        state_key="status",
        applied_states=frozenset({"stopped", "stopping"}),
    ),
    "aws.ebs.gp2_to_gp3": _VOLUME_TYPE,
    "aws.ebs.io_to_gp3": _VOLUME_TYPE,
    "aws.ebs.unattached": _removal(kinds.EBS_VOLUME),
    "aws.ebs.low_activity": _removal(kinds.EBS_VOLUME),
    "aws.ebs.stopped_instance": _removal(kinds.EBS_VOLUME),
    "aws.ebs.snapshot_old": _removal(kinds.EBS_SNAPSHOT),
    "aws.ebs.snapshot_orphaned": _removal(kinds.EBS_SNAPSHOT),
    "aws.rds.snapshot_old": _removal(kinds.RDS_SNAPSHOT),
    "aws.eip.unassociated": _removal(kinds.EIP),
    "aws.elb.idle": _removal(kinds.ELB),
    "aws.nat.idle": _removal(kinds.NAT_GATEWAY),
    "k8s.workload.rightsize": _WORKLOAD,
    "k8s.workload.abandoned": Watch(k8s.K8S_WORKLOAD, removal=True, observe=observe_k8s.scaled_to_zero),
    "k8s.node.underutilized": Watch(k8s.K8S_NODE, removal=True, observe=observe_k8s.drained),
    "k8s.pvc.unused": Watch(k8s.K8S_CLAIM, removal=True, observe=observe_k8s.claim_deleted),
    "k8s.service.lb_idle": Watch(k8s.K8S_LOAD_BALANCER, removal=True, observe=observe_k8s.balancer_removed),
    "gcp.compute.rightsize": Watch(gcp.GCE_INSTANCE, keys=("machineType",), signals=(CPU,)),
    "gcp.compute.idle": Watch(
        gcp.GCE_INSTANCE,
        removal=True,
        state_key="status",
        applied_states=frozenset({"TERMINATED", "STOPPING", "SUSPENDED"}),
    ),
    "gcp.sql.idle": Watch(gcp.SQL_INSTANCE, removal=True, applied_states=frozenset({"STOPPED"})),
    "gcp.address.unused": _removal(gcp.GCE_ADDRESS),
    "gcp.disk.unattached": _removal(gcp.GCE_DISK),
    "gcp.snapshot.old": _removal(gcp.GCE_SNAPSHOT),
    "azure.vm.rightsize": Watch(azure.VM, keys=("vmSize",), signals=(CPU,)),
    "azure.vm.idle": _DEALLOCATED,
    "azure.vm.stopped_not_deallocated": _DEALLOCATED,
    "azure.disk.unattached": _removal(azure.DISK),
    "azure.lb.no_backends": _removal(azure.LOAD_BALANCER),
    "azure.publicip.unassociated": _removal(azure.PUBLIC_IP),
    "azure.snapshot.old": _removal(azure.SNAPSHOT),
}
"""Modules whose outcome a scan observes (the Kubernetes ones: modules.kubernetes.observe)."""

REMOVALS = frozenset({Action.DELETE, Action.RELEASE, Action.STOP})


def covered(module: str) -> bool:
    return module in WATCHES


def find(snapshot: Snapshot, kind: str, resource_id: str) -> Resource | None:
    return next((r for r in snapshot.resources if r.kind == kind and r.id == resource_id), None)


def observe(finding: Finding, snapshot: Snapshot) -> Observation | None:
    """How ``snapshot`` shows ``finding``'s proposal; None for a module without a Watch."""
    watch = WATCHES.get(finding.module)
    if watch is None:
        return None
    resource = find(snapshot, watch.kind, finding.resource_id)
    if watch.observe is not None:
        return watch.observe(finding, resource, snapshot)
    return _observe_state(watch, resource) or _observe_keys(watch, finding, resource)


def _observe_state(watch: Watch, resource: Resource | None) -> Observation | None:
    """Gone, stopped or still there; None when the attributes in ``watch.keys`` decide."""
    state = str(resource.attr(watch.state_key)) if resource is not None else None
    if resource is None or state in watch.gone_states:
        gone = {"present": False, **({watch.state_key: state} if state else {})}
        if watch.removal:
            return Observation(Outcome.APPLIED, gone, "the resource is gone from the inventory")
        return Observation(Outcome.RESOURCE_GONE, gone, "the resource is gone; the proposal was a change")
    if watch.applied_states:
        seen = {watch.state_key: state}
        if state in watch.applied_states:
            return Observation(Outcome.APPLIED, seen, f"{watch.state_key} is {state}")
        return Observation(Outcome.UNCHANGED, seen, f"{watch.state_key} is still {state}")
    if watch.removal:
        return Observation(Outcome.UNCHANGED, {"present": True}, "the resource is still there")
    return None


def _observe_keys(watch: Watch, finding: Finding, resource: Resource | None) -> Observation:
    assert resource is not None  # _observe_state answered for a missing resource
    seen = {k: resource.attr(k) for k in watch.keys}
    if all(seen[k] == finding.proposed.get(k) for k in watch.keys):
        return Observation(Outcome.APPLIED, seen, _describe(seen, "now"))
    if all(seen[k] == finding.current.get(k) for k in watch.keys):
        return Observation(Outcome.UNCHANGED, seen, _describe(seen, "still"))
    wanted = {k: finding.proposed.get(k) for k in watch.keys}
    return Observation(
        Outcome.CHANGED_DIFFERENTLY,
        seen,
        f"{_describe(seen, 'now')}, not the proposed {_describe(wanted, '')}",
    )


def _describe(values: Mapping[str, Any], word: str) -> str:
    text = ", ".join(f"{k} {v}" for k, v in values.items())
    return f"{word} {text}".strip()


def regressions(
    finding: Finding, snapshot: Snapshot, *, since: datetime, thresholds: Thresholds
) -> list[dict[str, Any]]:
    """Post-change signals of harm, as evidence items (empty: none seen). Only days after ``since``."""
    watch = WATCHES.get(finding.module)
    if watch is None or finding.action in REMOVALS:
        return []
    found: list[dict[str, Any]] = []
    ids = [finding.resource_id]
    if watch.kind == k8s.K8S_WORKLOAD:
        ids = [c.id for c in snapshot.of_kind(k8s.K8S_CONTAINER) if c.attr("workload") == finding.resource_id]
    for signal in watch.signals:
        for rid in ids:
            probe = _Probe(finding, snapshot, rid, since, thresholds)
            found.extend(_summarised(_SIGNALS[signal](probe)))
    return found


def _summarised(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Daily items of one signal of one resource as one: days affected, first and last, worst value."""
    if len(days) <= 1 or "day" not in days[0]:
        return days
    worst = (
        max(days, key=lambda d: d["value"])
        if days[0]["unit"] != "bytes free"
        else min(days, key=lambda d: d["value"])
    )
    return [{**worst, "day": days[-1]["day"], "firstDay": days[0]["day"], "days": len(days)}]


@dataclass(frozen=True)
class _Probe:
    """One resource's post-change days, for the signal readers."""

    finding: Finding
    snapshot: Snapshot
    rid: str
    since: datetime
    limits: Thresholds

    def days(self, metric: Metric) -> list[Any]:
        daily = self.snapshot.metric(self.rid, metric).daily
        return [d for d in daily if d.samples and d.day > self.since.date()]

    def item(self, signal: str, day: Any, value: float, limit: float, unit: str) -> dict[str, Any]:
        return {"signal": signal, "resource": self.rid, "day": str(day), "value": round(value, 2),
                "threshold": limit, "unit": unit}  # fmt: skip


def _container_cpu(p: _Probe) -> list[dict[str, Any]]:
    """CPU use at or above the new request: the container now competes for CPU it no longer reserves."""
    container = p.rid.rsplit("/", 1)[-1]
    asked = ((p.finding.proposed.get("containers") or {}).get(container) or {}).get("requests") or {}
    if "cpu" not in asked:
        return []
    request = observe_k8s.parse_cpu(asked["cpu"])
    days = [d for d in p.days(Metric.CPU_MILLICORES) if d.high >= request]
    return [p.item("CpuAboveRequest", d.day, d.high, request, "millicores") for d in days]


def _cpu(p: _Probe) -> list[dict[str, Any]]:
    if watch_kind(p.finding) == k8s.K8S_WORKLOAD:
        return _container_cpu(p)
    limit = p.limits.cpu_saturation_percent
    days = [d for d in p.days(Metric.CPU_UTILIZATION) if d.high >= limit]
    return [p.item("CpuSaturated", d.day, d.high, limit, "percent") for d in days]


def _memory(p: _Probe) -> list[dict[str, Any]]:
    limit = p.limits.memory_pressure_percent
    days = [d for d in p.days(Metric.MEMORY_USED_PERCENT) if d.maximum >= limit]
    return [p.item("MemoryPressure", d.day, d.maximum, limit, "percent") for d in days]


def _rds_memory(p: _Probe) -> list[dict[str, Any]]:
    """Freeable memory under (100 - memoryPressurePercent)% of the new class's memory."""
    gib = p.finding.proposed.get("memoryGib")
    if not isinstance(gib, int | float) or gib <= 0:
        return []
    floor = float(gib) * 1024**3 * (100 - p.limits.memory_pressure_percent) / 100
    low = [
        (d.day, d.minimum if d.minimum is not None else d.average)
        for d in p.days(Metric.MEMORY_AVAILABLE_BYTES)
    ]
    return [p.item("MemoryPressure", day, free, floor, "bytes free") for day, free in low if free <= floor]


def _sums(p: _Probe, balancer: str, metric: Metric) -> tuple[dict[Any, float], dict[Any, float]]:
    """Daily sums of one load-balancer counter: (baseline days before the change's day, days after it);
    the day of the change, half before and half after, is in neither."""
    before: dict[Any, float] = {}
    after: dict[Any, float] = {}
    changed = p.since.date()
    for d in p.snapshot.metric(balancer, metric).daily:
        if d.samples and d.day != changed:
            total = d.sum if d.sum is not None else d.average * d.samples  # counters: Sum / SampleCount
            (after if d.day > changed else before)[d.day] = total
    return before, after


def _ratio(requests: Mapping[Any, float], errors: list[Mapping[Any, float]]) -> float | None:
    """5xx per request over the days with requests, in percent; None without traffic."""
    total = sum(requests.values())
    if total <= 0:
        return None
    failed = sum(e.get(day, 0.0) for e in errors for day in requests)
    return 100 * failed / total


def _lb_errors(p: _Probe) -> list[dict[str, Any]]:
    """An application load balancer in front of the instance answers more 5xx since the change: its
    (target 5xx + ELB 5xx) / requests after the change is above ``lb_error_percent`` and at least
    ``lb_error_growth`` times the same ratio over the baseline days. No traffic after, or no baseline
    traffic in the window (once the lookback has slid past the change): no signal."""
    found: list[dict[str, Any]] = []
    for lb in p.snapshot.of_kind(kinds.ELB):
        targets = lb.attr("targetInstances") or ()
        if lb.attr("type") != "application" or p.rid not in targets:
            continue
        req_before, req_after = _sums(p, lb.id, Metric.REQUEST_COUNT)
        err_before: list[Mapping[Any, float]] = []
        err_after: list[Mapping[Any, float]] = []
        for metric in (Metric.LB_TARGET_5XX_COUNT, Metric.LB_5XX_COUNT):
            before, after = _sums(p, lb.id, metric)
            err_before.append(before)
            err_after.append(after)
        after_ratio = _ratio(req_after, err_after)
        if after_ratio is None or after_ratio <= p.limits.lb_error_percent:
            continue
        before_ratio = _ratio(req_before, err_before)
        if before_ratio is None or after_ratio < p.limits.lb_error_growth * before_ratio:
            continue  # no request before the change in the window (it slid past): nothing to compare
        found.append({
            "signal": "LoadBalancerErrors", "resource": p.rid, "loadBalancer": lb.name or lb.id,
            "beforeRatio": round(before_ratio, 2), "afterRatio": round(after_ratio, 2),
            "requestsAfter": round(sum(req_after.values())), "days": len(req_after),
            "value": round(after_ratio, 2), "threshold": p.limits.lb_error_percent, "unit": "percent 5xx",
        })  # fmt: skip
    return found


def _oom(p: _Probe) -> list[dict[str, Any]]:
    resource = find(p.snapshot, k8s.K8S_CONTAINER, p.rid)
    killed = resource.attr("lastOomKilledAt") if resource is not None else None
    when = datetime.fromisoformat(killed) if isinstance(killed, str) else killed
    if isinstance(when, datetime) and when > p.since:
        return [{"signal": "OOMKilled", "resource": p.rid, "at": when.isoformat()}]
    return []


_SIGNALS: dict[str, Callable[[_Probe], list[dict[str, Any]]]] = {
    CPU: _cpu,
    MEMORY: _memory,
    RDS_MEMORY: _rds_memory,
    OOM: _oom,
    LB_ERRORS: _lb_errors,
}


def signals_watched(module: str) -> tuple[str, ...]:
    watch = WATCHES.get(module)
    return watch.signals if watch is not None else ()


def watch_kind(finding: Finding) -> str | None:
    watch = WATCHES.get(finding.module)
    return watch.kind if watch is not None else None

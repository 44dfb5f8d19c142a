"""Desired Recommendation objects of a policy from stored findings, and the changes that reach them."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from cloudios.api import API_VERSION, LocalObjectReference, RecommendationSpec
from cloudios.api.names import (
    LABEL_ACCOUNT,
    LABEL_CATEGORY,
    LABEL_MANAGED_BY,
    LABEL_MODULE,
    LABEL_POLICY,
    MANAGED_BY,
    RECOMMENDATION,
    label_value,
)
from cloudios.domain import StoredFinding
from cloudios.domain.closed_loop import LoopRecord
from cloudios.sinks import recommendation_loop as loop

KIND = RECOMMENDATION
# The states the operator derives from the store's findings and spec.decision. Applied, Verified and
# Expired come from the closed loop's record of the finding (sinks.recommendation_loop); such a state
# in status without that record was written by someone else and is replaced.
OPERATOR_STATES = frozenset({"Proposed", "Approved", "Dismissed", "Resolved"})
LOOP_STATES = frozenset({"Applied", "Verified", "Expired"})


def _reference(body: Mapping[str, Any]) -> dict[str, Any]:
    meta = body.get("metadata") or {}
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid")},
    }


def object_name(module: str, finding_id: str) -> str:
    """``<module-slug>-<first 12 hex of the finding id>``: stable across scans and operators."""
    slug = re.sub(r"[^a-z0-9]+", "-", module.lower()).strip("-")[:40]
    return f"{slug}-{finding_id[:12]}"


def savings(stored: StoredFinding) -> Decimal:
    money = stored.finding.monthly_savings
    return money.amount if money is not None else Decimal(0)


def top_findings(candidates: Iterable[StoredFinding], *, cap: int, floor: Decimal) -> list[StoredFinding]:
    """Open findings at or above ``floor``, largest saving first (ties by id), at most ``cap``.

    Unpriced findings (saving unknown, not zero) follow the priced ones; the floor cannot apply to them.
    """
    open_ = [
        f
        for f in candidates
        if f.resolved_at is None and (f.finding.monthly_savings is None or savings(f) >= floor)
    ]
    open_.sort(key=lambda f: (f.finding.monthly_savings is None, -savings(f), f.finding.id))
    return open_[:cap]


def _time(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value is not None else None


@dataclass(frozen=True)
class PolicyRef:
    """The ScanPolicy that owns the objects."""

    namespace: str
    name: str
    uid: str

    def owner(self) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": "ScanPolicy",
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": False,
        }


def desired_object(stored: StoredFinding, policy: PolicyRef) -> dict[str, Any]:
    """metadata + spec of the Recommendation for ``stored`` (no decision: that is the user's)."""
    f = stored.finding
    spec = RecommendationSpec(
        account_ref=LocalObjectReference(name=stored.account_name),
        policy_ref=LocalObjectReference(name=policy.name),
        finding_id=f.id,
        provider=f.provider,
        account_id=f.account_id,
        region=f.region,
        resource_type=f.resource_type,
        resource_id=f.resource_id,
        resource_name=f.resource_name,
        module=f.module,
        category=f.category,
        action=f.action,
        title=f.title,
        confidence=f.confidence,
        current=f.current,
        proposed=f.proposed,
        evidence=f.evidence,
        monthly_savings=f.monthly_savings,
        unpriced_reason=f.unpriced_reason,
        price_basis="effective" if f.price_basis == "effective" else "list",
    )
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": object_name(f.module, f.id),
            "namespace": policy.namespace,
            "labels": {
                LABEL_ACCOUNT: label_value(stored.account_name),
                LABEL_POLICY: label_value(policy.name),
                LABEL_MODULE: label_value(f.module),
                LABEL_CATEGORY: f.category.value,
                LABEL_MANAGED_BY: MANAGED_BY,
            },
            "ownerReferences": [policy.owner()],
        },
        "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"decision"}),
    }


def state_for(existing: Mapping[str, Any] | None, *, resolved: bool) -> str:
    """Resolved wins; then the user's decision; else Proposed (never a state found in status)."""
    if resolved:
        return "Resolved"
    decision = (((existing or {}).get("spec") or {}).get("decision") or {}).get("type")
    return str(decision) if decision in ("Approved", "Dismissed") else "Proposed"


def desired_status(
    stored: StoredFinding, existing: Mapping[str, Any] | None, record: LoopRecord | None = None
) -> dict[str, Any]:
    """State, times and the closed loop's fields; a loop state (Applied, Verified, Expired) wins."""
    status = _scan_status(stored, existing)
    if record is not None and record.state in LOOP_STATES:
        status["state"] = record.state
    status.update(loop.loop_status(record, existing))
    status["conditions"] = loop.conditions(existing, record)
    if status["conditions"] is None:
        del status["conditions"]
    return status


def _scan_status(stored: StoredFinding, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    resolved = stored.resolved_at is not None
    old = (existing or {}).get("status") or {}
    was_resolved = old.get("state") == "Resolved"
    # A scan sets the state only for new objects and when resolution changes; decisions move it
    # otherwise (the Recommendation handler), so a scan never races a user's approval. A state the
    # operator never derives (set by hand through the status subresource) is replaced.
    keep = existing is not None and resolved == was_resolved and old.get("state") in OPERATOR_STATES
    state = old.get("state") if keep else None
    return {
        "state": state or state_for(existing, resolved=resolved),
        "firstSeen": _time(stored.first_seen),
        "lastSeen": _time(stored.last_seen),
        "resolvedAt": _time(stored.resolved_at),
    }


def spec_patch(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[dict[str, Any]]:
    """JSON patch making ``existing`` match ``desired`` in labels, owner and operator-owned spec."""
    ops: list[dict[str, Any]] = []
    meta, want = existing.get("metadata", {}), desired["metadata"]
    labels = {**(meta.get("labels") or {}), **want["labels"]}
    if labels != (meta.get("labels") or {}):
        ops.append({"op": "add", "path": "/metadata/labels", "value": labels})
    owners = [
        o for o in meta.get("ownerReferences") or [] if o.get("uid") != want["ownerReferences"][0]["uid"]
    ]
    owners = [*owners, *want["ownerReferences"]]
    if owners != (meta.get("ownerReferences") or []):
        ops.append({"op": "add", "path": "/metadata/ownerReferences", "value": owners})
    have = existing.get("spec") or {}
    for key, value in desired["spec"].items():
        if have.get(key) != value:
            ops.append({"op": "add", "path": f"/spec/{key}", "value": value})
    ops.extend(
        {"op": "remove", "path": f"/spec/{key}"}
        for key in have
        if key not in desired["spec"] and key != "decision"
    )
    return ops


def status_patch(existing: Mapping[str, Any] | None, status: Mapping[str, Any]) -> dict[str, Any] | None:
    """Merge patch of the status fields that differ (None deletes); None when nothing changes."""
    old = (existing or {}).get("status") or {}
    changed = {k: v for k, v in status.items() if old.get(k) != v}
    return changed or None


@dataclass
class Plan:
    """What a reconcile does: create, patch (spec/labels and status), delete."""

    create: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    patch: list[tuple[str, list[dict[str, Any]], dict[str, Any] | None]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    transitions: list[loop.Transition] = field(default_factory=list)
    """State changes of existing objects this plan writes (audited and announced once written)."""
    regressed: list[loop.Transition] = field(default_factory=list)
    """Objects whose Regressed condition this plan raises."""

    def note(self, name: str, have: Mapping[str, Any], patch: Mapping[str, Any] | None,
             stored: StoredFinding, record: LoopRecord | None) -> None:  # fmt: skip
        """Record the state change and the raised Regressed condition a status patch carries."""
        if not patch:
            return
        old = have.get("status") or {}
        evidence = record.evidence_hash if record is not None else ""
        if "state" in patch and patch["state"] != old.get("state"):
            self.transitions.append(
                loop.Transition(
                    name,
                    stored.finding.id,
                    old.get("state"),
                    patch["state"],
                    evidence,
                    record,
                    _reference(have),
                )
            )
        raised = any(c.get("type") == loop.REGRESSED for c in patch.get("conditions") or [])
        had = any(c.get("type") == loop.REGRESSED for c in old.get("conditions") or [])
        if raised and not had:
            state = str(patch.get("state") or old.get("state"))
            self.regressed.append(
                loop.Transition(
                    name, stored.finding.id, old.get("state"), state, evidence, record, _reference(have)
                )
            )

    @property
    def empty(self) -> bool:
        return not (self.create or self.delete or any(ops or st for _, ops, st in self.patch))


def plan(
    policy: PolicyRef,
    candidates: Sequence[StoredFinding],
    existing: Sequence[Mapping[str, Any]],
    *,
    cap: int,
    floor: Decimal,
    records: Mapping[str, LoopRecord] | None = None,
) -> Plan:
    """Converge the policy's Recommendations on the top ``cap`` open findings among ``candidates``.

    Existing objects of findings that resolved become Resolved (kept as history). Objects whose
    finding is still open but fell out of the top are deleted unless a user decided on them.
    Objects of findings the candidates do not mention (module or account no longer selected)
    are left alone. ``records`` (the closed loop's, by finding id) add Applied, Verified and Expired;
    an object whose change was carried out is kept, with the proposal that was carried out.
    """
    records = records or {}
    result = Plan()
    by_name = {str(o["metadata"]["name"]): o for o in existing}
    by_finding = {object_name(f.finding.module, f.finding.id): f for f in candidates}
    top = top_findings(candidates, cap=cap, floor=floor)
    top_names = set()
    for stored in top:
        record = records.get(stored.finding.id)
        want = desired_object(as_proposed(stored, record), policy)
        name = want["metadata"]["name"]
        top_names.add(name)
        have = by_name.get(name)
        if have is None:
            result.create.append((want, desired_status(stored, None, record)))
        else:
            patch = status_patch(have, desired_status(stored, have, record))
            result.patch.append((name, spec_patch(have, want), patch))
            result.note(name, have, patch, stored, record)
    for name, have in sorted(by_name.items()):
        if name in top_names:
            continue
        known = by_finding.get(name)
        if known is None:
            continue
        record = records.get(known.finding.id)
        carried_out = record is not None and record.state in LOOP_STATES
        if known.resolved_at is None and not (have.get("spec") or {}).get("decision") and not carried_out:
            result.delete.append(name)
        else:
            patch = status_patch(have, desired_status(known, have, record))
            result.patch.append((name, [], patch))
            result.note(name, have, patch, known, record)
    return result


def as_proposed(stored: StoredFinding, record: LoopRecord | None) -> StoredFinding:
    """A carried-out change keeps the proposal it was made from, whatever later scans propose."""
    if record is None or record.state not in ("Applied", "Verified"):
        return stored
    return dataclasses.replace(stored, finding=record.baseline.finding)

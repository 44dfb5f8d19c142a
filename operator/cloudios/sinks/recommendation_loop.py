"""The closed loop's part of a Recommendation status, derived from the store's record of the finding.

Pure. A loop state (Applied, Verified, Expired) wins over the states scans and decisions derive;
``approved`` is decided once, when the status first says Applied (an approval decided before the
change was seen), and kept. The Regressed condition carries the post-change evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cloudios.api.closed_loop import Outcome, RealizedSavings
from cloudios.domain.closed_loop import LoopRecord

REGRESSED = "Regressed"
LOOP_FIELDS = ("appliedAt", "approved", "verifiedAt", "realizedMonthlySavings", "realized", "outcome")


def _time(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value is not None else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def approved_before(existing: Mapping[str, Any] | None, applied_at: datetime) -> bool:
    """Whether the object's decision is an approval made before the change was observed."""
    decision = ((existing or {}).get("spec") or {}).get("decision") or {}
    if decision.get("type") != "Approved":
        return False
    decided = _parse(decision.get("decidedAt"))
    return decided is None or decided <= applied_at


def outcome(record: LoopRecord) -> dict[str, Any] | None:
    if record.outcome is None:
        return None
    model = Outcome(
        result=record.outcome,
        observed=record.observed,
        detail=record.detail,
        observed_at=record.observed_at.replace(microsecond=0) if record.observed_at else None,
        baseline_monthly_cost=record.baseline.run_rate,
        baseline_basis=record.baseline.run_rate_basis,
        regressions=record.regressions,
        evidence_hash=record.evidence_hash,
    )
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def loop_status(record: LoopRecord | None, existing: Mapping[str, Any] | None) -> dict[str, Any]:
    """The loop's status fields (None deletes a field in a merge patch)."""
    fields: dict[str, Any] = dict.fromkeys(LOOP_FIELDS)
    if record is None:
        return fields
    fields["outcome"] = outcome(record)
    if record.state in ("Applied", "Verified") and record.applied_at is not None:
        old = (existing or {}).get("status") or {}
        kept = old.get("approved")
        fields["appliedAt"] = _time(record.applied_at)
        fields["approved"] = kept if isinstance(kept, bool) else approved_before(existing, record.applied_at)
    if record.state == "Verified" and record.realized is not None:
        fields["verifiedAt"] = _time(record.verified_at)
        realized = RealizedSavings(
            monthly_savings=record.realized.monthly_savings,
            basis=record.realized.basis,
            reason=record.realized.reason,
            post_change_days=record.realized.post_change_days,
        )
        fields["realized"] = realized.model_dump(mode="json", by_alias=True, exclude_none=True)
        fields["realizedMonthlySavings"] = fields["realized"].get("monthlySavings")
    return fields


def regressed_condition(record: LoopRecord | None) -> dict[str, Any] | None:
    """metav1.Condition Regressed=True with the evidence in words, or None when nothing hurt."""
    if record is None or not record.regressions or record.regressed_at is None:
        return None
    first = record.regressions[0]
    signals = sorted({str(r.get("signal")) for r in record.regressions})
    detail = "; ".join(_describe(r) for r in record.regressions[:3])
    return {
        "type": REGRESSED,
        "status": "True",
        "reason": str(first.get("signal", "Regressed")),
        "message": f"after the change: {detail}. Check the workload; roll back if users are affected "
        f"(signals: {', '.join(signals)}).",
        "lastTransitionTime": _time(record.regressed_at),
    }


def _describe(item: Mapping[str, Any]) -> str:
    where = item.get("resource")
    if "at" in item:
        return f"{item['signal']} of {where} at {item['at']}"
    if "loadBalancer" in item:
        return (
            f"{item['signal']} of {where}: load balancer {item['loadBalancer']} answered "
            f"{item['afterRatio']}% 5xx over {item.get('days')} day(s) "
            f"({item.get('requestsAfter')} requests) vs {item['beforeRatio']}% before the change"
        )
    days = item.get("days", 1)
    return (
        f"{item['signal']} of {where}: {item['value']} {item['unit']} vs threshold {item['threshold']} "
        f"on {days} day(s) up to {item.get('day')}"
    )


def conditions(existing: Mapping[str, Any] | None, record: LoopRecord | None) -> list[dict[str, Any]] | None:
    """The object's conditions with Regressed set (or left out); None when nothing changes."""
    old = list(((existing or {}).get("status") or {}).get("conditions") or [])
    others = [c for c in old if c.get("type") != REGRESSED]
    found = regressed_condition(record)
    new = [*others, found] if found is not None else others
    return new if new != old else None


@dataclass(frozen=True)
class Transition:
    """A state change a publish writes to a Recommendation (audited, announced)."""

    name: str
    finding_id: str
    previous: str | None
    state: str
    evidence_hash: str
    record: LoopRecord | None
    obj: Mapping[str, Any] = field(default_factory=dict)
    """apiVersion, kind and metadata (name, namespace, uid) of the object, for its Events."""

"""Whether the operator published a Recommendation object (its store knows the finding), and the status
and spec it must have; nothing in a Recommendation but the user's decision belongs to anyone else."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cloudios.api.names import LABEL_MANAGED_BY, MANAGED_BY
from cloudios.domain import StoredFinding
from cloudios.domain.closed_loop import LoopRecord
from cloudios.sinks import recommendation_loop as loop
from cloudios.sinks import recommendation_objects as objects
from cloudios.sinks.recommendation_objects import PolicyRef
from cloudios.store.repository import Repository


@dataclass(frozen=True)
class Ownership:
    """``foreign`` says why the object is not the operator's (then it is deleted); ``stored`` is its
    finding when the store knows it (None also when the store has no history of the account)."""

    foreign: str | None = None
    stored: StoredFinding | None = None
    record: LoopRecord | None = None
    """The closed loop's record of the finding (Applied, Verified, Expired, regressions), if any."""


def judge(body: Mapping[str, Any], store: Repository, account_exists: Callable[[str], bool]) -> Ownership:
    """Published by the operator, or not (created by hand, even by an identity the webhooks exempt).

    The operator publishes only findings it recorded, under its label, for an existing account. An
    account the store has no scans of (a fresh store after the pod moved) cannot be judged by
    finding: its objects are kept until a scan of that account is recorded.
    """
    meta = body.get("metadata") or {}
    spec = body.get("spec") or {}
    namespace = str(meta.get("namespace"))
    ref = spec.get("accountRef")
    account = ref.get("name") if isinstance(ref, Mapping) else None
    finding_id = spec.get("findingId")
    if (meta.get("labels") or {}).get(LABEL_MANAGED_BY) != MANAGED_BY:
        return Ownership(foreign=f"it lacks the label {LABEL_MANAGED_BY}={MANAGED_BY}")
    if not isinstance(account, str) or not account or not isinstance(finding_id, str):
        return Ownership(foreign="it names no account or finding")
    stored = store.finding(namespace, account, finding_id)
    if stored is not None:
        records = store.outcomes(namespace, account_name=account)
        return Ownership(stored=stored, record=next((r for r in records if r.finding_id == finding_id), None))
    if store.has_scans(namespace, account):
        return Ownership(foreign=f"no scan of CloudAccount {account} found finding {finding_id}")
    if not account_exists(account):
        return Ownership(foreign=f"CloudAccount {account} does not exist")
    return Ownership()


def desired_status(
    body: Mapping[str, Any], stored: StoredFinding | None, record: LoopRecord | None = None
) -> dict[str, Any]:
    """The status the operator owns: from the store, the closed loop's record and spec.decision;
    without the store's record, the state follows the decision (Resolved stays) and nothing else is
    touched.

    The loop's transitions (to Applied, Verified, Expired; a raised Regressed condition) are written
    by the policy's publish, which audits and announces them; this object handler keeps them once
    written (and a pending Applied -> Verified as it is) but never writes one first, so no transition
    escapes the audit log. A loop state the store does not back is replaced.
    """
    if stored is None:
        resolved = (body.get("status") or {}).get("state") == "Resolved"
        return {"state": objects.state_for(body, resolved=resolved)}
    status = objects.desired_status(stored, None)
    status["state"] = objects.state_for(body, resolved=stored.resolved_at is not None)
    current = (body.get("status") or {}).get("state")
    if record is not None and record.state in objects.LOOP_STATES:
        # Resolution is superseded by the loop's state, which the publish writes next.
        backed = current in _BACKED[record.state]
        status["state"] = current if backed else objects.state_for(body, resolved=False)
    if record is None or record.state is None or status["state"] == record.state:
        status.update(loop.loop_status(record, body))
    regressed = any(
        c.get("type") == loop.REGRESSED for c in (body.get("status") or {}).get("conditions") or []
    )
    if record is None or not record.regressions or regressed:
        conditions = loop.conditions(body, record)
        if conditions is not None:
            status["conditions"] = conditions
    return status


# The current states a loop record backs: its own, and Applied while a Verified waits for the publish.
_BACKED = {"Applied": ("Applied",), "Verified": ("Verified", "Applied"), "Expired": ("Expired",)}


def spec_repairs(
    body: Mapping[str, Any], stored: StoredFinding, record: LoopRecord | None = None
) -> list[dict[str, Any]]:
    """JSON patch restoring the operator-owned spec (all but the decision) from the store (a change
    that was carried out keeps the proposal it was made from)."""
    meta = body.get("metadata") or {}
    policy = ((body.get("spec") or {}).get("policyRef") or {}).get("name") or ""
    proposal = objects.as_proposed(stored, record)
    want = objects.desired_object(proposal, PolicyRef(str(meta.get("namespace")), str(policy), ""))
    return [op for op in objects.spec_patch(body, want) if op["path"].startswith("/spec/")]

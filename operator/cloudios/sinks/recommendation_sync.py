"""Apply a policy's Recommendation plan: create-or-patch (409 on create means patch), resolve, prune."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cloudios.api.closed_loop import ClosedLoopSummary
from cloudios.api.names import LABEL_POLICY, RECOMMENDATION, label_value
from cloudios.domain import StoredFinding
from cloudios.domain.closed_loop import LoopRecord
from cloudios.sinks import recommendation_objects as objects
from cloudios.sinks.kube import CONFLICT, ApiError, Kube
from cloudios.sinks.recommendation_loop import Transition
from cloudios.sinks.recommendation_objects import PolicyRef

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one reconcile changed."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    created_names: list[str] = field(default_factory=list)
    """Names of the objects this reconcile created (recommendation.created webhooks)."""
    transitions: list[Transition] = field(default_factory=list)
    """State changes of existing objects written by this reconcile (audit, Events)."""
    regressed: list[Transition] = field(default_factory=list)
    """Objects whose Regressed condition this reconcile raised (Event, metric, webhook)."""
    loop: ClosedLoopSummary | None = None
    """The policy's Recommendations in the closed loop, for its status (set by the caller)."""


def _create(kube: Kube, policy: PolicyRef, body: dict[str, Any], status: dict[str, Any]) -> str:
    """'created', 'updated' (the name existed: patched instead) or 'skipped' (another policy's)."""
    name = body["metadata"]["name"]
    try:
        kube.create(RECOMMENDATION, policy.namespace, body)
    except ApiError as exc:
        if exc.status != CONFLICT:
            raise
        have = kube.get(RECOMMENDATION, policy.namespace, name)
        if have is None:  # deleted in between: the next reconcile creates it
            return "skipped"
        owner = (have["metadata"].get("labels") or {}).get(LABEL_POLICY)
        if owner not in (None, body["metadata"]["labels"][LABEL_POLICY]):
            log.info(
                "recommendation %s/%s is published by policy %s; left alone", policy.namespace, name, owner
            )
            return "skipped"
        ops = objects.spec_patch(have, body)
        if ops:
            kube.patch(RECOMMENDATION, policy.namespace, name, ops)
        status_patch = objects.status_patch(have, status)
        if status_patch:
            kube.patch_status(RECOMMENDATION, policy.namespace, name, status_patch)
        return "updated"
    # The status subresource ignores status sent with the create.
    kube.patch_status(RECOMMENDATION, policy.namespace, name, status)
    return "created"


def sync(
    kube: Kube,
    policy: PolicyRef,
    found: Sequence[StoredFinding],
    *,
    cap: int,
    floor: Decimal,
    records: Mapping[str, LoopRecord] | None = None,
) -> SyncReport:
    """Converge the policy's Recommendation objects on the store; idempotent, safe to repeat.

    ``records``: the closed loop's, by finding id (Applied, Verified, Expired, Regressed)."""
    existing = kube.items(
        RECOMMENDATION, policy.namespace, label_selector=f"{LABEL_POLICY}={label_value(policy.name)}"
    )
    plan = objects.plan(policy, found, existing, cap=cap, floor=floor, records=records)
    report = SyncReport()
    for body, status in plan.create:
        outcome = _create(kube, policy, body, status)
        setattr(report, outcome, getattr(report, outcome) + 1)
        if outcome == "created":
            report.created_names.append(body["metadata"]["name"])
    for name, ops, status_patch in plan.patch:
        if not ops and not status_patch:
            continue
        if ops:
            kube.patch(RECOMMENDATION, policy.namespace, name, ops)
        if status_patch:
            kube.patch_status(RECOMMENDATION, policy.namespace, name, status_patch)
        report.updated += 1
    for name in plan.delete:
        report.deleted += int(kube.delete(RECOMMENDATION, policy.namespace, name))
    # Only once written: a failed patch above raises, and the next reconcile plans them again.
    report.transitions, report.regressed = plan.transitions, plan.regressed
    return report


def state_counts(kube: Kube, namespace: str) -> Counter[str]:
    """The namespace's Recommendation objects (every policy's) by status.state; none yet is Proposed."""
    return Counter(
        str((item.get("status") or {}).get("state") or "Proposed")
        for item in kube.items(RECOMMENDATION, namespace)
    )

"""Apply a policy's Recommendation plan: create-or-patch (409 on create means patch), resolve, prune."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kubernetes.client.exceptions import ApiException

from cloudios.controller import recommendation_objects as objects
from cloudios.controller.kube import CONFLICT, Kube
from cloudios.controller.recommendation_objects import KIND, LABEL_POLICY, PolicyRef
from cloudios.store.repository import Repository, StoredFinding

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one reconcile changed."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0


def candidates(
    store: Repository, tenant: str, accounts: Sequence[str], modules: set[str]
) -> list[StoredFinding]:
    """Stored findings (open and resolved) of the policy's accounts and modules.

    Accounts the store marks deleted are left out: their CloudAccount is being finalized and its
    Recommendations deleted, so a run that started before must not publish them again.
    """
    live = {a.name for a in store.accounts(tenant)}
    found: list[StoredFinding] = []
    for account in (a for a in accounts if a in live):
        found.extend(
            f
            for f in store.findings(tenant, account_name=account, include_resolved=True)
            if f.finding.module in modules
        )
    return found


def _create(kube: Kube, policy: PolicyRef, body: dict[str, Any], status: dict[str, Any]) -> str:
    """'created', 'updated' (the name existed: patched instead) or 'skipped' (another policy's)."""
    name = body["metadata"]["name"]
    try:
        kube.create(KIND, policy.namespace, body)
    except ApiException as exc:
        if exc.status != CONFLICT:
            raise
        have = kube.get(KIND, policy.namespace, name)
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
            kube.patch(KIND, policy.namespace, name, ops)
        status_patch = objects.status_patch(have, status)
        if status_patch:
            kube.patch_status(KIND, policy.namespace, name, status_patch)
        return "updated"
    # The status subresource ignores status sent with the create.
    kube.patch_status(KIND, policy.namespace, name, status)
    return "created"


def sync(
    kube: Kube,
    policy: PolicyRef,
    found: Sequence[StoredFinding],
    *,
    cap: int,
    floor: Decimal,
) -> SyncReport:
    """Converge the policy's Recommendation objects on the store; idempotent, safe to repeat."""
    existing = kube.items(
        KIND, policy.namespace, label_selector=f"{LABEL_POLICY}={objects.label_value(policy.name)}"
    )
    plan = objects.plan(policy, found, existing, cap=cap, floor=floor)
    report = SyncReport()
    for body, status in plan.create:
        outcome = _create(kube, policy, body, status)
        setattr(report, outcome, getattr(report, outcome) + 1)
    for name, ops, status_patch in plan.patch:
        if not ops and not status_patch:
            continue
        if ops:
            kube.patch(KIND, policy.namespace, name, ops)
        if status_patch:
            kube.patch_status(KIND, policy.namespace, name, status_patch)
        report.updated += 1
    for name in plan.delete:
        report.deleted += int(kube.delete(KIND, policy.namespace, name))
    return report


def state_counts(kube: Kube, namespace: str) -> Counter[str]:
    """The namespace's Recommendation objects (every policy's) by status.state; none yet is Proposed."""
    return Counter(
        str((item.get("status") or {}).get("state") or "Proposed") for item in kube.items(KIND, namespace)
    )

"""A ScanPolicy run's webhooks: its NotificationsReady condition and the events it enqueues."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from cloudios.api import ScanPolicy
from cloudios.api.webhooks import PolicyRef
from cloudios.domain import SavingsSummary, StoredFinding
from cloudios.services import notification_events, notifications
from cloudios.services.account_scans import AccountRun
from cloudios.services.context import PolicyRuns
from cloudios.services.notifications import Destinations
from cloudios.sinks.recommendation_objects import object_name
from cloudios.sinks.recommendation_sync import SyncReport

log = logging.getLogger(__name__)
NONE = Destinations((), None)


async def destinations(svc: PolicyRuns, policy: ScanPolicy) -> Destinations:
    """Check the policy's webhooks (reads their Secrets, stores the signing secrets encrypted)."""
    if svc.notifier is None or not policy.spec.notifications:
        return NONE
    return await asyncio.to_thread(notifications.check, svc.notifier, svc.kube, policy)


async def announce_run(
    svc: PolicyRuns,
    policy: ScanPolicy,
    found: Destinations,
    *,
    run_time: datetime,
    runs: Sequence[AccountRun],
    savings: SavingsSummary,
    report: SyncReport,
    published: Sequence[StoredFinding],
    failure_message: str,
) -> None:
    """Enqueue scan.completed (and scan.failed) and recommendation.created for the run, in one store
    transaction; ids are derived from the run, so publishing the same run again adds nothing."""
    notifier = svc.notifier
    if notifier is None or not found.usable:
        return
    ref = PolicyRef(namespace=policy.metadata.namespace, name=policy.metadata.name)
    events = notification_events.scan_events(
        ref=ref,
        run_time=run_time,
        runs=[(r.name, r.outcome, r.reason if r.outcome != "Succeeded" else "", r.findings) for r in runs],
        savings=savings,
        recommendations_created=len(report.created_names),
        failure_message=failure_message,
    )
    by_name = {object_name(f.finding.module, f.finding.id): f for f in published}
    events.extend(
        notification_events.recommendation_created(
            ref=ref,
            name=name,
            stored=by_name[name],
            allow_list=notifier.settings.tag_allow_list,
            now=run_time,
        )
        for name in report.created_names
        if name in by_name
    )
    try:
        added = await asyncio.to_thread(notifications.enqueue, notifier, policy, found.usable, events)
    except Exception:  # the run's status must still be written; the outbox is retried next run
        log.exception("policy %s/%s: enqueueing webhooks failed", ref.namespace, ref.name)
        return
    if added:
        log.info("policy %s/%s: %d webhook delivery(ies) enqueued", ref.namespace, ref.name, added)

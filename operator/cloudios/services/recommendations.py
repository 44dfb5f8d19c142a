"""Recommendation objects: status follows the store and spec.decision; objects the operator did not
publish are deleted (level-based, on every event)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from cloudios.api.names import CLOUD_ACCOUNT, RECOMMENDATION
from cloudios.api.objects import name_of
from cloudios.services import event_notifications
from cloudios.services import recommendation_ownership as ownership
from cloudios.services.context import ObjectLocks
from cloudios.services.notifications import Notifier
from cloudios.sinks import recommendation_objects
from cloudios.sinks.kube import Kube
from cloudios.sinks.notices import Notice, reference
from cloudios.store.repository import Repository

log = logging.getLogger(__name__)


async def reconcile(
    kube: Kube,
    store: Repository,
    locks: ObjectLocks,
    body: Mapping[str, Any],
    notifier: Notifier | None = None,
) -> list[Notice]:
    """Delete an object the operator did not publish; set the others' status from the store and the
    decision (a state written by anyone else is replaced), and restore a tampered spec. A new
    decision is announced (recommendation.decided) through ``notifier`` before its state is written."""
    namespace, name = name_of(body)

    def account_exists(account: str) -> bool:
        return kube.get(CLOUD_ACCOUNT, namespace, account) is not None

    owned = await asyncio.to_thread(ownership.judge, body, store, account_exists)
    if owned.foreign is not None:
        return await _delete_foreign(kube, locks, body, owned.foreign)
    status = body.get("status") or {}
    wanted = ownership.desired_status(body, owned.stored, owned.record)
    repairs = ownership.spec_repairs(body, owned.stored, owned.record) if owned.stored is not None else []
    patch = recommendation_objects.status_patch(body, wanted)
    if patch is None and not repairs:
        return []
    state = wanted["state"]
    decided = state != status.get("state") and state in ("Approved", "Dismissed")
    if decided:
        await event_notifications.decision(notifier, kube, body, state)
    async with locks.hold(RECOMMENDATION, namespace, name):
        if repairs:
            log.warning("recommendation %s/%s: restoring its spec from the store", namespace, name)
            await asyncio.to_thread(kube.patch, RECOMMENDATION, namespace, name, repairs)
        if patch is not None:
            patch["observedGeneration"] = body.get("metadata", {}).get("generation")
            if not await asyncio.to_thread(kube.patch_status, RECOMMENDATION, namespace, name, patch):
                return []
    if decided:
        who = ((body.get("spec") or {}).get("decision") or {}).get("decidedBy") or "a user"
        return [Notice(reference(body), "Normal", f"Recommendation{state}", f"{state.lower()} by {who}")]
    return []


async def _delete_foreign(kube: Kube, locks: ObjectLocks, body: Mapping[str, Any], why: str) -> list[Notice]:
    namespace, name = name_of(body)
    async with locks.hold(RECOMMENDATION, namespace, name):
        deleted = await asyncio.to_thread(kube.delete, RECOMMENDATION, namespace, name)
    if not deleted:
        return []
    message = f"deleted: not published by the Cloudios operator ({why})"
    log.warning("recommendation %s/%s %s", namespace, name, message)
    return [Notice(reference(body), "Warning", "UnpublishedRecommendationDeleted", message)]

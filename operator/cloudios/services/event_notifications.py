"""Webhooks for events outside a policy run: a decision on a Recommendation, invalid credentials.

Each goes to the ScanPolicies it concerns (the Recommendation's owner; the policies selecting the
account) and to their destinations subscribed to it. Keys are derived from the objects, so handling
the same object again enqueues nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from cloudios.api import ScanPolicy
from cloudios.api.names import SCAN_POLICY
from cloudios.api.objects import name_of, parse
from cloudios.api.webhooks import PolicyRef
from cloudios.pipeline.selection import selects
from cloudios.services import notification_events, notifications
from cloudios.services.notification_events import PendingEvent
from cloudios.services.notifications import Notifier
from cloudios.sinks import conditions
from cloudios.sinks.kube import Kube

log = logging.getLogger(__name__)
CREDENTIALS_VALID = "CredentialsValid"


def _send(notifier: Notifier, kube: Kube, policy: ScanPolicy, event: PendingEvent) -> int:
    if not any(event.type in n.events for n in policy.spec.notifications):
        return 0
    found = notifications.check(notifier, kube, policy)
    return notifications.enqueue(notifier, policy, found.usable, [event])


def _policy(body: Mapping[str, Any] | None) -> ScanPolicy | None:
    if body is None:
        return None
    try:
        return parse(body, ScanPolicy)
    except ValidationError:
        return None


async def decision(notifier: Notifier | None, kube: Kube, body: Mapping[str, Any], state: str) -> None:
    """recommendation.decided to the Recommendation's owning ScanPolicy; called before the state is
    written, so a crash in between sends it on the next reconcile, under the same id."""
    if notifier is None:
        return
    namespace, name = name_of(body)
    owner = next(
        (
            o.get("name")
            for o in body["metadata"].get("ownerReferences") or []
            if o.get("kind") == "ScanPolicy"
        ),
        None,
    )
    if owner is None:
        return
    policy = _policy(await asyncio.to_thread(kube.get, SCAN_POLICY, namespace, str(owner)))
    if policy is None:
        return
    decided = ((body.get("spec") or {}).get("decision") or {}).get("decidedAt") or ""
    event = notification_events.recommendation_decided(
        ref=PolicyRef(namespace=namespace, name=policy.metadata.name),
        name=name,
        decision=state,
        state=state,
        decided_key=f"{body['metadata'].get('uid')}/{state}/{decided}",
        now=notifier.clock(),
    )
    try:
        await asyncio.to_thread(_send, notifier, kube, policy, event)
    except Exception:  # a failed announcement never blocks the state it announces
        log.exception("recommendation %s/%s: enqueueing recommendation.decided failed", namespace, name)


async def credentials_invalid(
    notifier: Notifier | None, kube: Kube, body: Mapping[str, Any], *, reason: str, message: str
) -> None:
    """account.credentials_invalid to every policy selecting the account, when its CredentialsValid
    condition is about to turn False (called before the status is written)."""
    if notifier is None:
        return
    old = conditions.find(conditions.parse((body.get("status") or {}).get("conditions")), CREDENTIALS_VALID)
    if old is not None and old.status == "False":
        return  # the same outage: announced when it began
    namespace, name = name_of(body)
    since = old.last_transition_time.isoformat() if old is not None and old.last_transition_time else "never"
    labels = body["metadata"].get("labels")
    provider = str((body.get("spec") or {}).get("provider"))
    try:
        for policy_body in await asyncio.to_thread(kube.items, SCAN_POLICY, namespace):
            policy = _policy(policy_body)
            if policy is None or not selects(policy, namespace, labels):
                continue
            event = notification_events.credentials_invalid(
                ref=PolicyRef(namespace=namespace, name=policy.metadata.name),
                account=name, provider=provider, reason=reason, message=message,
                now=notifier.clock(), key=f"{body['metadata'].get('uid')}/{since}",
            )  # fmt: skip
            await asyncio.to_thread(_send, notifier, kube, policy, event)
    except Exception:  # the account's status must still be written
        log.exception("account %s/%s: enqueueing account.credentials_invalid failed", namespace, name)

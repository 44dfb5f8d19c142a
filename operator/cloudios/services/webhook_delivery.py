"""The outbox worker: send due webhooks, retry with capped exponential backoff and full jitter, and
turn what ran out of time into dead letters on the ScanPolicy's status and in metrics.

Every attempt of a message carries its one webhook-id and a fresh timestamp and signature; a
message is retried until its deadline (CLOUDIOS_NOTIFY_RETRY_HOURS after the event), then kept as a
dead letter. A refusal by the SSRF guard after DNS resolution is a dead letter at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cloudios.api.names import SCAN_POLICY
from cloudios.api.objects import name_of
from cloudios.api.scanpolicy import NotificationCounts
from cloudios.security import keyring, webhook_signing
from cloudios.services import notifications
from cloudios.services.context import PolicyRuns
from cloudios.services.notifications import Notifier
from cloudios.sinks.conditions import Observation
from cloudios.sinks.notices import Notice
from cloudios.sinks.webhooks import Attempt
from cloudios.store.outbox import DEAD, OutboxCounts, OutboxMessage

log = logging.getLogger(__name__)

NOTIFICATIONS_DELIVERED = "NotificationsDelivered"
_MAX_EXPONENT = 40  # 2**40 seconds is far beyond any cap; keeps the float finite


def backoff_delay(attempt: int, *, base: float, cap: float, jitter: Callable[[float, float], float]) -> float:
    """Seconds before retry ``attempt`` + 1 ("full jitter"): uniform in [0, min(cap, base * 2**attempt)]."""
    bound = min(cap, base * 2 ** min(max(attempt, 0), _MAX_EXPONENT))
    return float(min(bound, max(0.0, jitter(0.0, bound))))


@dataclass(frozen=True)
class PassReport:
    """One pass over a policy's due messages, and the outbox afterwards."""

    delivered: int
    failed: int
    dead: int
    counts: OutboxCounts


def _attempt(notifier: Notifier, message: OutboxMessage) -> Attempt:
    now = notifier.clock()
    try:
        keys = notifications.signing_keys(notifier, message.tenant, message.secret_name, now)
    except (keyring.KeyringError, webhook_signing.SecretFormatError, ValueError) as exc:
        return Attempt(ok=False, error=f"the signing secret cannot be read: {type(exc).__name__}")
    if not keys:
        return Attempt(
            ok=False, error="no signing secret is stored for this destination (see NotificationsReady)"
        )
    body = message.body.encode()
    headers = webhook_signing.headers(keys, message.id, int(now.timestamp()), body)
    allow = notifier.settings.allows_private(message.tenant)
    return notifier.sender.send(message.url, body, headers, allow_private=allow)


def deliver_pass(notifier: Notifier, tenant: str, policy: str) -> PassReport:
    """Send the policy's due messages once each (blocking); the outbox's counts afterwards."""
    settings = notifier.settings
    claimed = notifier.store.claim_webhooks(
        tenant,
        policy,
        now=notifier.clock(),
        lease=timedelta(seconds=settings.lease_seconds),
        limit=settings.batch,
    )
    delivered = failed = dead = 0
    for message in claimed:
        result = _attempt(notifier, message)
        now = notifier.clock()
        notifier.metrics.record_webhook(tenant, policy, message.event, ok=result.ok)
        if result.ok:
            notifier.store.webhook_delivered(tenant, message.id, now=now)
            delivered += 1
            continue
        failed += 1
        retry_at = None
        if not result.refused and now < message.deadline:
            delay = backoff_delay(
                message.attempts, base=settings.backoff_base_seconds, cap=settings.backoff_max_seconds,
                jitter=notifier.jitter,
            )  # fmt: skip
            retry_at = min(now + timedelta(seconds=delay), message.deadline)
        if retry_at is None:
            dead += 1
            log.warning(
                "webhook %s (%s) of policy %s/%s is a dead letter after %d attempt(s): %s",
                message.id, message.event, tenant, policy, message.attempts + 1, result.error,
            )  # fmt: skip
        notifier.store.webhook_failed(tenant, message.id, now=now, error=result.error, retry_at=retry_at)
    counts = notifier.store.webhook_counts(tenant, policy)
    notifier.metrics.set_webhook_outbox(tenant, policy, pending=counts.pending, dead=counts.dead)
    return PassReport(delivered, failed, dead, counts)


def observation(counts: OutboxCounts) -> Observation:
    """NotificationsDelivered: False while the newest finished delivery is a dead letter."""
    if counts.latest_finished == DEAD:
        return Observation(
            NOTIFICATIONS_DELIVERED, "False", "DeadLetters",
            f"{counts.dead} webhook delivery(ies) gave up; the newest, {counts.last_dead_event}: "
            f"{counts.last_dead_error}. Fix the receiver (or its URL); later events are still sent, "
            "and the metric cloudios_webhook_dead_letters counts them.",
        )  # fmt: skip
    return Observation(
        NOTIFICATIONS_DELIVERED, "True", "Delivering",
        f"{counts.delivered} delivered, {counts.pending} pending, {counts.dead} dead letter(s).",
    )  # fmt: skip


def counts_status(counts: OutboxCounts) -> dict[str, Any]:
    last = f"{counts.last_dead_event}: {counts.last_dead_error}" if counts.dead else ""
    model = NotificationCounts(
        pending=counts.pending,
        delivered=counts.delivered,
        dead_letters=counts.dead,
        last_dead_letter=last[:1024],
    )
    return model.model_dump(mode="json", by_alias=True)


def _active(body: Mapping[str, Any]) -> bool:
    """Whether the policy has webhooks, or messages still waiting from ones it had."""
    pending = ((body.get("status") or {}).get("notifications") or {}).get("pending") or 0
    return bool((body.get("spec") or {}).get("notifications")) or pending > 0


async def deliver(svc: PolicyRuns, body: Mapping[str, Any]) -> list[Notice]:
    """The delivery timer of one ScanPolicy: one pass, then counts and NotificationsDelivered on status."""
    notifier = svc.notifier
    if notifier is None or not _active(body):
        return []
    namespace, name = name_of(body)
    report = await asyncio.to_thread(deliver_pass, notifier, namespace, name)
    extra = {"notifications": counts_status(report.counts)}
    status = body.get("status") or {}
    if report.delivered == report.failed == 0 and status.get("notifications") == extra["notifications"]:
        return []
    async with svc.locks.hold(SCAN_POLICY, namespace, name):
        return await svc.status.write(body, [observation(report.counts)], extra, kind=SCAN_POLICY)

"""ScanPolicy webhooks: check each destination, keep its signing secret in the keyring, enqueue events.

A destination is usable when its URL passes the SSRF guard (security.urls) and its secretRef names a
readable Secret holding a whsec_ secret. The secret is stored only through the keyring (the store's
put_secret), with the previous one kept for the rotation overlap; deliveries sign with both then.
NotificationsReady says which destination is not usable, naming the field and the fix.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from cloudios.api import ScanPolicy
from cloudios.security import keyring, urls, webhook_signing
from cloudios.services.notification_events import PendingEvent
from cloudios.services.settings_notify import NotifySettings
from cloudios.sinks.conditions import Observation
from cloudios.sinks.kube import Kube, SecretUnreadableError
from cloudios.sinks.metrics import Metrics
from cloudios.sinks.webhooks import WebhookSender
from cloudios.store.outbox import OutboxCounts, OutboxMessage

NOTIFICATIONS_READY = "NotificationsReady"
DEFAULT_KEY = "secret"
_FIX_URL = (
    "use a public https:// endpoint (private ranges only where the operator allows them for this "
    "namespace: CLOUDIOS_NOTIFY_ALLOW_PRIVATE_NAMESPACES)"
)


class OutboxPort(Protocol):
    """What webhooks need of the store: encrypted secrets and the outbox (store/outbox.py)."""

    def put_secret(self, tenant: str, name: str, plaintext: bytes) -> None: ...
    def get_secret(self, tenant: str, name: str) -> bytes | None: ...
    def enqueue_webhooks(self, tenant: str, messages: Sequence[OutboxMessage]) -> int: ...
    def claim_webhooks(
        self, tenant: str, policy: str, *, now: datetime, lease: timedelta, limit: int = ...
    ) -> list[OutboxMessage]: ...
    def webhook_delivered(self, tenant: str, msg_id: str, *, now: datetime) -> None: ...
    def webhook_failed(
        self, tenant: str, msg_id: str, *, now: datetime, error: str, retry_at: datetime | None
    ) -> None: ...
    def webhook_counts(self, tenant: str, policy: str) -> OutboxCounts: ...


@dataclass
class Notifier:
    """Webhooks' collaborators: the store (secrets, outbox), the HTTP sender, settings, metrics."""

    store: OutboxPort
    sender: WebhookSender
    settings: NotifySettings
    metrics: Metrics
    clock: Callable[[], datetime]
    jitter: Callable[[float, float], float] = field(default=random.uniform)


@dataclass(frozen=True)
class Destinations:
    """The policy's usable destinations (indices into spec.notifications) and the condition."""

    usable: tuple[int, ...]
    observation: Observation | None


def secret_name(policy: str, index: int) -> str:
    """The store's name of a destination's signing secrets (encrypted, bound to tenant and name)."""
    return f"webhook/{policy}/{index}"


def message_id(tenant: str, policy: str, index: int, url: str, event: PendingEvent) -> str:
    """The webhook-id: the same event for the same destination always gets the same id."""
    seed = "\x1f".join((tenant, policy, str(index), url, event.type, event.key))
    return "msg_" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def _problem(  # noqa: PLR0911 - one refusal per rule, in the order a user fixes them
    notifier: Notifier, kube: Kube, namespace: str, policy: ScanPolicy, i: int
) -> str | None:
    """Why destination ``i`` cannot be used (naming the field and the fix), after storing its secret."""
    spec = policy.spec.notifications[i]
    where = f"spec.notifications[{i}]"
    problem = urls.webhook_url_problem(spec.url, allow_private=notifier.settings.allows_private(namespace))
    if problem is not None:
        return f"{where}.url is refused: {problem}; {_FIX_URL}"
    ref = spec.secret_ref
    if ref is None:
        return (
            f"{where}.secretRef is not set: nothing is sent unsigned; create a Secret with key "
            f"'{DEFAULT_KEY}' holding a whsec_ secret and reference it"
        )
    key = ref.key or DEFAULT_KEY
    try:
        data = kube.secret_data(namespace, ref.name)
    except SecretUnreadableError as exc:
        what = "does not exist" if exc.missing else "cannot be read by the operator (RBAC)"
        return f"{where}.secretRef: Secret '{ref.name}' {what}; create it in namespace {namespace}"
    if key not in data:
        return f"{where}.secretRef: Secret '{ref.name}' has no key '{key}'; add it (a whsec_ secret)"
    try:
        text = data[key].decode()
        webhook_signing.parse_secret(text)
    except (UnicodeDecodeError, webhook_signing.SecretFormatError) as exc:
        detail = str(exc) if isinstance(exc, webhook_signing.SecretFormatError) else "not UTF-8"
        return f"{where}.secretRef: Secret '{ref.name}' key '{key}' is not usable: {detail}"
    try:
        store_secret(notifier, namespace, secret_name(policy.metadata.name, i), text)
    except keyring.KeyringError as exc:
        return f"{where}.secretRef: the signing secret cannot be stored encrypted: {exc}"
    return None


def check(notifier: Notifier, kube: Kube, policy: ScanPolicy) -> Destinations:
    """Check every destination (blocking: reads Secrets and the store); no notifications, no condition."""
    namespace = policy.metadata.namespace
    if not policy.spec.notifications:
        return Destinations((), None)
    usable: list[int] = []
    problems: list[str] = []
    for i in range(len(policy.spec.notifications)):
        problem = _problem(notifier, kube, namespace, policy, i)
        if problem is None:
            usable.append(i)
        else:
            problems.append(problem)
    if not problems:
        observation = Observation(
            NOTIFICATIONS_READY, "True", "WebhooksReady",
            f"{len(usable)} webhook destination(s) have a usable URL and signing secret.",
        )  # fmt: skip
    else:
        reason = "SecretUnusable" if all("secretRef" in p for p in problems) else "WebhookRefused"
        if all(".url is refused" in p for p in problems):
            reason = "UrlRefused"
        skipped = (
            f"{len(problems)} of {len(policy.spec.notifications)} webhook destination(s) receive nothing: "
        )
        observation = Observation(NOTIFICATIONS_READY, "False", reason, skipped + "; ".join(problems))
    return Destinations(tuple(usable), observation)


def store_secret(notifier: Notifier, tenant: str, name: str, value: str) -> None:
    """Keep ``value`` as the current secret; a changed one keeps the old as previous for the overlap."""
    now = notifier.clock()
    stored = _secrets(notifier, tenant, name)
    if stored.get("current") == value:
        return
    document = {"current": value}
    if stored.get("current"):
        until = now + timedelta(hours=notifier.settings.secret_overlap_hours)
        document.update(previous=stored["current"], previousUntil=until.isoformat())
    notifier.store.put_secret(tenant, name, json.dumps(document).encode())


def _secrets(notifier: Notifier, tenant: str, name: str) -> dict[str, str]:
    raw = notifier.store.get_secret(tenant, name)
    return {} if raw is None else dict(json.loads(raw))


def signing_keys(notifier: Notifier, tenant: str, name: str, now: datetime) -> list[bytes]:
    """The keys a delivery is signed with: the current one, and the previous one during the overlap."""
    stored = _secrets(notifier, tenant, name)
    keys = [webhook_signing.parse_secret(stored["current"])] if stored.get("current") else []
    previous, until = stored.get("previous"), stored.get("previousUntil")
    if previous and until and now < datetime.fromisoformat(until):
        keys.append(webhook_signing.parse_secret(previous))
    return keys


def enqueue(
    notifier: Notifier, policy: ScanPolicy, usable: Sequence[int], events: Sequence[PendingEvent]
) -> int:
    """Address each event to every usable destination subscribed to it; one transaction, idempotent."""
    namespace, name = policy.metadata.namespace, policy.metadata.name
    now = notifier.clock()
    deadline = now + timedelta(hours=notifier.settings.retry_hours)
    messages = [
        OutboxMessage(
            tenant=namespace,
            id=message_id(namespace, name, i, policy.spec.notifications[i].url, event),
            policy=name,
            destination=i,
            url=policy.spec.notifications[i].url,
            secret_name=secret_name(name, i),
            event=event.type,
            body=event.body(),
            created_at=now,
            deadline=deadline,
        )
        for event in events
        for i in usable
        if event.type in policy.spec.notifications[i].events
    ]
    return notifier.store.enqueue_webhooks(namespace, messages) if messages else 0

"""Signed webhooks through the outbox to a local HTTPS receiver: signatures, outages, restarts,
redirects, and every address class the SSRF guard refuses after DNS resolution."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from cloudios.api import ScanPolicy
from cloudios.api.webhooks import PolicyRef
from cloudios.domain import SavingsSummary
from cloudios.security import keyset, webhook_signing
from cloudios.services import notification_events, notifications
from cloudios.services.notifications import Notifier
from cloudios.services.settings_notify import NotifySettings
from cloudios.services.webhook_delivery import deliver_pass
from cloudios.sinks.kube import Kube, SecretUnreadableError
from cloudios.sinks.metrics import Metrics
from cloudios.sinks.webhooks import WebhookSender
from cloudios.store.outbox import DEAD, DELIVERED, PENDING
from cloudios.store.sql import SqlRepository
from tests.support.webhook_receiver import HOST_NAME, Receiver, verify

NS, POLICY = "team-a", "nightly"
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
SECRET = webhook_signing.generate_secret()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeKube:
    """Only what notifications.check reads: Secrets by namespace and name."""

    def __init__(self, secrets: dict[str, dict[str, bytes]]) -> None:
        self.secrets = secrets

    def secret_data(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, bytes]:
        del namespace, timeout
        if name not in self.secrets:
            raise SecretUnreadableError(name, missing=True)
        return self.secrets[name]


def policy(
    urls: Sequence[str], *, secret: str | None = "hook", events: Sequence[str] | None = None
) -> ScanPolicy:
    items: list[dict[str, Any]] = []
    for url in urls:
        item: dict[str, Any] = {"url": url}
        if secret:
            item["secretRef"] = {"name": secret}
        item["events"] = list(events or ["scan.completed", "scan.failed", "recommendation.created"])
        items.append(item)
    return ScanPolicy.model_validate(
        {"metadata": {"name": POLICY, "namespace": NS}, "spec": {"notifications": items}}
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def master() -> keyset.MasterKeyset:
    return keyset.generate()


def make_notifier(
    data: Path,
    master: keyset.MasterKeyset,
    clock: Clock,
    found: Receiver,
    *,
    resolve_to: Sequence[str] | None = None,
    **overrides: Any,
) -> tuple[SqlRepository, Notifier]:
    addresses = list(resolve_to) if resolve_to is not None else [found.address]

    def resolver(host: str, port: int) -> list[str]:
        assert host == HOST_NAME, host
        del port
        return addresses

    store = SqlRepository.sqlite(data, keyset=master)
    settings = NotifySettings(
        allow_private_namespaces=(NS,), backoff_base_seconds=5, backoff_max_seconds=300, **overrides
    )
    sender = WebhookSender(resolver=resolver, ca_file=found.certs.ca_file, timeout_seconds=5)
    notifier = Notifier(store, sender, settings, Metrics(version="test", process_metrics=False), clock)
    return store, notifier


def scan_completed() -> list[notification_events.PendingEvent]:
    return notification_events.scan_events(
        ref=PolicyRef(namespace=NS, name=POLICY),
        run_time=T0,
        runs=[("prod", "Succeeded", "", 3)],
        savings=SavingsSummary.of([]),
        recommendations_created=0,
        failure_message="",
    )


def enqueue(notifier: Notifier, spec: ScanPolicy) -> int:
    found = notifications.check(notifier, cast("Kube", FakeKube({"hook": {"secret": SECRET.encode()}})), spec)
    assert found.observation is not None
    assert found.observation.status == "True", found.observation
    return notifications.enqueue(notifier, spec, found.usable, scan_completed())


@pytest.fixture
def setup(
    data: Path, master: keyset.MasterKeyset, clock: Clock, receiver: Receiver
) -> Iterator[tuple[SqlRepository, Notifier]]:
    store, notifier = make_notifier(data, master, clock, receiver)
    yield store, notifier
    notifier.sender.close()
    store.close()


def test_a_delivery_is_signed_per_standard_webhooks_and_a_tampered_body_fails(
    setup: tuple[SqlRepository, Notifier], receiver: Receiver
) -> None:
    store, notifier = setup
    assert enqueue(notifier, policy([receiver.url()])) == 1
    report = deliver_pass(notifier, NS, POLICY)
    assert (report.delivered, report.counts.delivered, report.counts.pending) == (1, 1, 0)
    [got] = receiver.received
    assert got.path == "/hooks"
    assert got.headers["host"] == f"{HOST_NAME}:{receiver.port}"
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["webhook-timestamp"] == str(int(T0.timestamp()))
    assert verify(SECRET, got.headers, got.body)
    assert not verify(SECRET, got.headers, got.body.replace(b'"findings":3', b'"findings":4'))
    assert not verify(webhook_signing.generate_secret(), got.headers, got.body)
    payload = json.loads(got.body)
    assert (payload["type"], payload["version"], payload["data"]["policy"]["name"]) == (
        "scan.completed",
        1,
        POLICY,
    )
    [row] = store.webhook_messages(NS)
    assert row.state == DELIVERED


def test_rotation_sends_old_and_new_signatures_during_the_overlap(
    setup: tuple[SqlRepository, Notifier], receiver: Receiver, clock: Clock
) -> None:
    _store, notifier = setup
    name = notifications.secret_name(POLICY, 0)
    new = webhook_signing.generate_secret()
    notifications.store_secret(notifier, NS, name, SECRET)
    notifications.store_secret(notifier, NS, name, new)
    found = notifications.Destinations((0,), None)
    notifications.enqueue(notifier, policy([receiver.url()]), found.usable, scan_completed())
    deliver_pass(notifier, NS, POLICY)
    [got] = receiver.received
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verify(new, got.headers, got.body)
    assert verify(SECRET, got.headers, got.body)
    clock.advance(notifier.settings.secret_overlap_hours * 3600 + 1)
    assert len(notifications.signing_keys(notifier, NS, name, clock())) == 1


def test_receiver_down_for_an_hour_gets_the_event_later_exactly_once_with_one_id(
    setup: tuple[SqlRepository, Notifier], receiver: Receiver, clock: Clock
) -> None:
    store, notifier = setup
    enqueue(notifier, policy([receiver.url()]))
    receiver.stop()
    attempts = 0
    while clock.now < T0 + timedelta(hours=1):
        attempts += deliver_pass(notifier, NS, POLICY).failed
        clock.advance(30)
    assert attempts >= 5
    [row] = store.webhook_messages(NS)
    assert (row.state, row.attempts) == (PENDING, attempts)
    receiver.start()
    for _ in range(30):  # the worker keeps running: one success, then nothing more to send
        deliver_pass(notifier, NS, POLICY)
        clock.advance(30)
    [got] = receiver.received
    assert got.headers["webhook-id"] == row.id
    assert verify(SECRET, got.headers, got.body)
    assert store.webhook_counts(NS, POLICY).delivered == 1


def test_publishing_the_same_run_again_enqueues_nothing_new(
    setup: tuple[SqlRepository, Notifier], receiver: Receiver
) -> None:
    store, notifier = setup
    spec = policy([receiver.url()])
    assert enqueue(notifier, spec) == 1
    assert enqueue(notifier, spec) == 0
    assert len(store.webhook_messages(NS)) == 1


def test_operator_restart_mid_retry_delivers_once_with_the_same_id(
    data: Path, master: keyset.MasterKeyset, clock: Clock, receiver: Receiver
) -> None:
    store, notifier = make_notifier(data, master, clock, receiver)
    enqueue(notifier, policy([receiver.url()]))
    receiver.status = 503
    assert deliver_pass(notifier, NS, POLICY).failed == 1
    first_id = receiver.received[0].headers["webhook-id"]
    # The process dies while holding a lease on the message (mid-attempt).
    clock.advance(600)
    assert len(store.claim_webhooks(NS, POLICY, now=clock(), lease=timedelta(seconds=120))) == 1
    notifier.sender.close()
    store.close()
    receiver.status = 204
    store, notifier = make_notifier(data, master, clock, receiver)
    assert deliver_pass(notifier, NS, POLICY).delivered == 0  # still leased by the dead worker
    clock.advance(121)
    for _ in range(5):
        deliver_pass(notifier, NS, POLICY)
        clock.advance(60)
    accepted = receiver.received[1:]
    assert [r.headers["webhook-id"] for r in accepted] == [first_id]
    assert store.webhook_counts(NS, POLICY).delivered == 1
    notifier.sender.close()
    store.close()


def test_retrying_stops_at_the_deadline_as_a_dead_letter(
    data: Path, master: keyset.MasterKeyset, clock: Clock, receiver: Receiver
) -> None:
    store, notifier = make_notifier(data, master, clock, receiver, retry_hours=1)
    enqueue(notifier, policy([receiver.url()]))
    receiver.status = 500
    for _ in range(200):
        deliver_pass(notifier, NS, POLICY)
        clock.advance(60)
    counts = store.webhook_counts(NS, POLICY)
    assert (counts.pending, counts.dead, counts.latest_finished) == (0, 1, DEAD)
    assert counts.last_dead_error == "HTTP 500"
    [row] = store.webhook_messages(NS)
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert row.attempts == len(receiver.received)
    notifier.sender.close()
    store.close()


def test_redirects_are_not_followed(setup: tuple[SqlRepository, Notifier], receiver: Receiver) -> None:
    store, notifier = setup
    receiver.status, receiver.location = 307, "https://169.254.169.254/latest/meta-data/"
    enqueue(notifier, policy([receiver.url()]))
    report = deliver_pass(notifier, NS, POLICY)
    assert report.failed == 1
    assert len(receiver.received) == 1
    [row] = store.webhook_messages(NS)
    assert "redirects are not followed" in row.last_error


REFUSED_ANSWERS = {
    "loopback v4": ["127.0.0.1"],
    "loopback v6": ["::1"],
    "link-local": ["169.254.10.1"],
    "aws metadata": ["169.254.169.254"],
    "aws metadata v6": ["fd00:ec2::254"],
    "alibaba metadata": ["100.100.100.200"],
    "unspecified": ["0.0.0.0"],
    "multicast": ["224.0.0.251"],
    "ipv4-mapped loopback": ["::ffff:127.0.0.1"],
    "loopback beside public (rebinding)": ["93.184.215.14", "127.0.0.1"],
}


@pytest.mark.parametrize("answer", REFUSED_ANSWERS.values(), ids=REFUSED_ANSWERS.keys())
def test_a_name_resolving_to_a_refused_address_is_refused_at_delivery(
    data: Path, master: keyset.MasterKeyset, clock: Clock, receiver: Receiver, answer: list[str]
) -> None:
    store, notifier = make_notifier(data, master, clock, receiver, resolve_to=answer)
    enqueue(notifier, policy([receiver.url()]))
    report = deliver_pass(notifier, NS, POLICY)
    assert (report.failed, report.dead) == (1, 1)
    assert receiver.received == []
    [row] = store.webhook_messages(NS)
    assert row.last_error.startswith("refused:"), row.last_error
    notifier.sender.close()
    store.close()


def test_private_addresses_are_refused_unless_the_namespace_is_allowed(
    data: Path, master: keyset.MasterKeyset, clock: Clock, receiver: Receiver
) -> None:
    store, notifier = make_notifier(data, master, clock, receiver, resolve_to=["10.1.2.3"])
    notifier.settings = NotifySettings(allow_private_namespaces=("other",))
    spec = policy([receiver.url()])
    notifications.store_secret(notifier, NS, notifications.secret_name(POLICY, 0), SECRET)
    notifications.enqueue(notifier, spec, (0,), scan_completed())
    deliver_pass(notifier, NS, POLICY)
    [row] = store.webhook_messages(NS)
    assert "private address" in row.last_error
    assert receiver.received == []
    notifier.sender.close()
    store.close()


@pytest.mark.parametrize(
    ("spec", "secrets", "expected"),
    [
        (
            policy(["https://169.254.169.254/hook"]),
            {"hook": {"secret": SECRET.encode()}},
            "spec.notifications[0].url is refused",
        ),
        (policy(["https://metadata.google.internal/"]), {"hook": {"secret": SECRET.encode()}}, "metadata"),
        (policy([f"https://{HOST_NAME}/"], secret=None), {}, "spec.notifications[0].secretRef is not set"),
        (policy([f"https://{HOST_NAME}/"]), {}, "Secret 'hook' does not exist"),
        (policy([f"https://{HOST_NAME}/"]), {"hook": {"other": b"x"}}, "has no key 'secret'"),
        (policy([f"https://{HOST_NAME}/"]), {"hook": {"secret": b"plain"}}, "must start with 'whsec_'"),
    ],
)
def test_an_unusable_destination_is_a_condition_naming_the_field(
    setup: tuple[SqlRepository, Notifier],
    spec: ScanPolicy,
    secrets: dict[str, dict[str, bytes]],
    expected: str,
) -> None:
    _store, notifier = setup
    found = notifications.check(notifier, cast("Kube", FakeKube(secrets)), spec)
    assert found.usable == ()
    assert found.observation is not None
    assert found.observation.type == "NotificationsReady"
    assert found.observation.status == "False"
    assert expected in found.observation.message


def test_the_signing_secret_is_stored_only_encrypted(
    setup: tuple[SqlRepository, Notifier], receiver: Receiver, data: Path
) -> None:
    _store, notifier = setup
    enqueue(notifier, policy([receiver.url()]))
    raw = (data / "cloudios.db").read_bytes()
    for wal in data.glob("cloudios.db-wal"):
        raw += wal.read_bytes()
    assert SECRET.encode() not in raw
    assert SECRET.removeprefix("whsec_").encode() not in raw

"""Events outside a policy run reach the outbox once: a decision, and credentials turning invalid."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, cast

import pytest

from cloudios.security import keyset, webhook_signing
from cloudios.services import event_notifications
from cloudios.services.notifications import Notifier
from cloudios.services.settings_notify import NotifySettings
from cloudios.sinks.kube import Kube, SecretUnreadableError
from cloudios.sinks.metrics import Metrics
from cloudios.sinks.webhooks import WebhookSender
from cloudios.store.sql import SqlRepository
from tests.integration.test_webhook_delivery import T0, Clock

NS = "team-a"
SECRET = webhook_signing.generate_secret()


def policy_body(name: str, events: list[str], selector: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "ScanPolicy",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "accountSelector": selector or {},
            "notifications": [
                {"url": "https://hooks.example.com/in", "secretRef": {"name": "hook"}, "events": events}
            ],
        },
    }


class FakeKube:
    def __init__(self, policies: list[dict[str, Any]]) -> None:
        self.policies = policies

    def items(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        del kind, namespace
        return self.policies

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        del kind, namespace
        return next((p for p in self.policies if p["metadata"]["name"] == name), None)

    def secret_data(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, bytes]:
        del namespace, timeout
        if name != "hook":
            raise SecretUnreadableError(name, missing=True)
        return {"secret": SECRET.encode()}


@pytest.fixture
def notifier(tmp_path: Path) -> Any:
    store = SqlRepository.sqlite(tmp_path, keyset=keyset.generate())
    found = Notifier(
        store, WebhookSender(), NotifySettings(), Metrics(version="t", process_metrics=False), Clock()
    )
    yield found
    found.sender.close()
    store.close()


def account_body(credentials: str | None) -> dict[str, Any]:
    conditions = []
    if credentials is not None:
        conditions.append({"type": "CredentialsValid", "status": credentials, "reason": "X", "message": "",
                           "lastTransitionTime": "2026-11-01T00:00:00Z"})  # fmt: skip
    return {
        "metadata": {"name": "prod", "namespace": NS, "uid": "acc-uid", "labels": {"env": "prod"}},
        "spec": {"provider": "aws"},
        "status": {"conditions": conditions},
    }


def test_credentials_turning_invalid_is_announced_once_to_the_selecting_policies(notifier: Notifier) -> None:
    kube = cast("Kube", FakeKube([
        policy_body("nightly", ["account.credentials_invalid"]),
        policy_body("other-env", ["account.credentials_invalid"], {"matchLabels": {"env": "dev"}}),
        policy_body("not-subscribed", ["scan.completed"]),
    ]))  # fmt: skip
    store = cast("SqlRepository", notifier.store)
    for _ in range(2):  # the same transition handled twice (a retry after a failed status write)
        asyncio.run(event_notifications.credentials_invalid(
            notifier, kube, account_body("True"), reason="AccessDenied", message="AssumeRole denied"
        ))  # fmt: skip
    [message] = store.webhook_messages(NS)
    assert (message.policy, message.event) == ("nightly", "account.credentials_invalid")
    assert json.loads(message.body)["data"]["reason"] == "AccessDenied"
    asyncio.run(event_notifications.credentials_invalid(
        notifier, kube, account_body("False"), reason="AccessDenied", message="still denied"
    ))  # fmt: skip
    assert len(store.webhook_messages(NS)) == 1


def test_a_decision_is_announced_to_the_owning_policy_once(notifier: Notifier) -> None:
    kube = cast("Kube", FakeKube([policy_body("nightly", ["recommendation.decided"])]))
    body = {
        "metadata": {"name": "aws-ec2-idle-abc", "namespace": NS, "uid": "rec-uid",
                     "ownerReferences": [{"kind": "ScanPolicy", "name": "nightly"}]},
        "spec": {"decision": {"type": "Approved", "decidedAt": T0.isoformat()}},
    }  # fmt: skip
    for _ in range(2):
        asyncio.run(event_notifications.decision(notifier, kube, body, "Approved"))
    store = cast("SqlRepository", notifier.store)
    [message] = store.webhook_messages(NS)
    data = json.loads(message.body)["data"]
    assert (data["recommendation"], data["decision"]) == ("aws-ec2-idle-abc", "Approved")

"""Signed webhooks end to end: a real scan announces itself to a local HTTPS receiver, and a
metadata-service URL is refused at admission."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import pytest
from kubernetes import client as k8s

from cloudios.security import webhook_signing
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.support.webhook_receiver import Receiver, verify

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES = "cloudaccounts", "scanpolicies"


def with_webhook(url: str, *, secret: str | None = "hooks") -> dict[str, Any]:
    body = policy("daily", max_recommendations=3)
    item: dict[str, Any] = {"url": url, "events": ["scan.completed", "recommendation.created"]}
    if secret:
        item["secretRef"] = {"name": secret}
    body["spec"]["notifications"] = [item]
    return body


def test_a_scan_sends_a_signed_scan_completed_to_the_receiver(
    operators: OperatorFactory, cluster: Cluster, receiver: Receiver
) -> None:
    signing = webhook_signing.generate_secret()
    cluster.secret("hooks", {"secret": signing})
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, with_webhook(receiver.url(host=receiver.address)))
    operators(
        cluster.namespace,
        CLOUDIOS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        CLOUDIOS_NOTIFY_ALLOW_PRIVATE_NAMESPACES=cluster.namespace,
        CLOUDIOS_NOTIFY_CA_FILE=str(receiver.certs.ca_file),
        CLOUDIOS_NOTIFY_INTERVAL_SECONDS="1",
    )

    def completed() -> Any:
        return next((r for r in receiver.received if json.loads(r.body)["type"] == "scan.completed"), None)

    got = eventually(completed, timeout=120, what="a scan.completed webhook")
    assert verify(signing, got.headers, got.body)
    assert not verify(signing, got.headers, got.body + b" ")
    payload = json.loads(got.body)
    assert payload["version"] == 1
    assert payload["data"]["policy"] == {"namespace": cluster.namespace, "name": "daily"}
    assert payload["data"]["accounts"][0]["name"] == "prod"
    assert payload["data"]["recommendationsCreated"] == 3
    created = eventually(
        lambda: [r for r in receiver.received if json.loads(r.body)["type"] == "recommendation.created"],
        timeout=60,
        what="recommendation.created webhooks",
    )
    assert all(verify(signing, r.headers, r.body) for r in created)
    ready = cluster.wait_condition(POLICIES, "daily", "NotificationsReady", "True")
    assert "1 webhook destination" in ready["message"]

    def counted() -> Any:
        counts = cluster.get(POLICIES, "daily")["status"].get("notifications") or {}
        return counts if counts.get("delivered", 0) >= 1 + len(created) else None

    counts = eventually(counted, timeout=60, what="delivered counts on the ScanPolicy status")
    assert counts["deadLetters"] == 0
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)), "nothing is sent twice"


def test_a_missing_secret_is_a_condition_not_silence(operators: OperatorFactory, cluster: Cluster) -> None:
    cluster.create(POLICIES, with_webhook("https://hooks.example.com/cloudios", secret="absent"))
    operators(cluster.namespace, CLOUDIOS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode())
    found = cluster.wait_condition(POLICIES, "daily", "NotificationsReady", "False", reason="SecretUnusable")
    assert "spec.notifications[0].secretRef: Secret 'absent' does not exist" in found["message"]


def test_a_metadata_service_url_is_refused_at_admission(operators: OperatorFactory, cluster: Cluster) -> None:
    operators(cluster.namespace)
    body = with_webhook("https://169.254.169.254/latest/meta-data/")

    def refused() -> str | None:
        try:
            cluster.create(POLICIES, body)
        except k8s.ApiException as exc:
            return str(exc.body)
        cluster.delete(POLICIES, "daily")  # the webhook was not registered yet (it fails open)
        return None

    message = eventually(refused, timeout=60, what="admission refusing the metadata URL")
    assert "spec.notifications[0].url is refused" in message
    assert "169.254.169.254 is a cloud metadata service address" in message

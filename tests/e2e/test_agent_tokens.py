"""A kubernetes CloudAccount on the real API server: the operator mints its agent token into a Secret
once, a real `cloudios ingest` accepts reports with it, rotation keeps the old token for the overlap,
revocation and deletion stop it, and no token shows up in the status, Events or logs.

The test control plane runs no controller-manager, so the Secret's owner reference (deletion with the
account) is checked as written, not by watching the garbage collector act on it.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from cloudios.api.names import CLOUD_ACCOUNT, PLURALS
from cloudios.security import cluster_tokens
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.support import agent_payloads as sample
from tests.support.ingest import IngestProcess, running_ingest

pytestmark = [pytest.mark.cluster, pytest.mark.aws]
ACCOUNTS = PLURALS[CLOUD_ACCOUNT]
SECRET = "edge-agent-token"


def cluster_account(name: str, cluster: str) -> dict[str, Any]:
    return {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": name},
        "spec": {"provider": "kubernetes", "kubernetes": {"clusterName": cluster}},
    }


def token_secret(cluster: Cluster) -> k8s.V1Secret | None:
    try:
        return cluster.core.read_namespaced_secret(SECRET, cluster.namespace)
    except k8s.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def token_in(secret: k8s.V1Secret | None) -> str | None:
    value = (secret.data or {}).get("token") if secret is not None else None
    return None if value is None else base64.b64decode(value).decode()


def annotate(cluster: Cluster, key: str, value: str | None) -> None:
    cluster.patch(ACCOUNTS, "edge", {"metadata": {"annotations": {key: value}}})


def report(ingest: IngestProcess, token: str, sequence: int) -> int:
    rep = sample.report(sequence, stream="e2e0", inventory=sample.inventory(), usage=(sample.usage(),))
    with ingest.client() as client:
        return ingest.post(client, token, sample.body(rep)).status_code


def test_the_token_secret_is_written_once_rotated_and_revoked(
    operators: OperatorFactory, cluster: Cluster, tmp_path: Path
) -> None:
    env = {
        "CLOUDIOS_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CLOUDIOS_AGENT_CHECK_INTERVAL_SECONDS": "1",
        "CLOUDIOS_AGENT_TOKEN_OVERLAP_HOURS": "1",
    }
    operator = operators(cluster.namespace, **env)
    cluster.create(ACCOUNTS, cluster_account("edge", "edge-1"))
    first = eventually(lambda: token_secret(cluster), what="the token Secret")
    token = token_in(first)
    assert token is not None
    assert cluster_tokens.well_formed(token)
    owner = cluster.get(ACCOUNTS, "edge")
    (ref,) = first.metadata.owner_references
    assert (ref.kind, ref.name, ref.uid, ref.controller) == (
        "CloudAccount",
        "edge",
        owner["metadata"]["uid"],
        True,
    )
    waiting = cluster.wait_condition(ACCOUNTS, "edge", "Ready", "False", reason="AgentNotReporting")
    assert f"Secret '{SECRET}'" in waiting["message"]
    assert cluster.get(ACCOUNTS, "edge")["status"]["agentInstallRef"] == SECRET

    # Re-runs (agent timer ticks, a restarted operator) never rewrite the Secret.
    time.sleep(3)
    operator.restart()
    operator.wait_for_log("starting")
    time.sleep(4)
    again = token_secret(cluster)
    assert again is not None
    assert again.metadata.resource_version == first.metadata.resource_version
    assert token_in(again) == token

    data = tmp_path / "data"  # the operator's store (OperatorFactory's CLOUDIOS_DATA_DIR)
    with running_ingest(
        tmp_path, {"CLOUDIOS_DATA_DIR": str(data), "CLOUDIOS_INGEST_TOKEN_CACHE_SECONDS": "1"}
    ) as ingest:
        assert report(ingest, token, 1) == 200
        cluster.wait_condition(ACCOUNTS, "edge", "Ready", "True", reason="AgentReporting", timeout=30)
        assert cluster.get(ACCOUNTS, "edge")["status"]["lastReportAt"].startswith("20")

        annotate(cluster, "cloudios.io/rotate-token", "2026-12")
        rotated = eventually(
            lambda: (s := token_secret(cluster)) is not None and token_in(s) != token and s, what="rotation"
        )
        new = token_in(rotated)
        assert new is not None
        assert new != token
        assert report(ingest, token, 2) == 200  # the old token works during the overlap
        assert report(ingest, new, 3) == 200
        assert "TokenRotated" in [e.reason for e in cluster.events("edge")]

        annotate(cluster, "cloudios.io/revoke-token", "compromised")
        eventually(lambda: token_in(token_secret(cluster)) is None, what="the Secret emptied")
        eventually(lambda: report(ingest, new, 4) == 403, timeout=10, what="revocation at ingest")
        assert report(ingest, token, 5) == 403
        cluster.wait_condition(ACCOUNTS, "edge", "Ready", "False", reason="TokenRevoked", timeout=30)

        annotate(cluster, "cloudios.io/revoke-token", None)  # a fresh token, as on first creation
        fresh = eventually(lambda: token_in(token_secret(cluster)), what="a fresh token")
        assert fresh not in (token, new)
        eventually(lambda: report(ingest, fresh, 6) == 200, timeout=10, what="the fresh token accepted")
        cluster.delete(ACCOUNTS, "edge")
        eventually(lambda: not cluster.exists(ACCOUNTS, "edge"), what="the account deleted")
        eventually(lambda: report(ingest, fresh, 7) == 403, timeout=10, what="deletion at ingest")
        ingest_log = ingest.text()

    seen = [
        operator.text(),
        ingest_log,
        json.dumps([e.to_dict() for e in cluster.events("edge")], default=str),
    ]
    for text in seen:
        for value in (token, new, fresh):
            assert value[len(cluster_tokens.PREFIX) : -6] not in text
    assert "cluster=" in ingest_log

"""The operator end to end on GCP: a gcp CloudAccount + ScanPolicy -> priced Recommendations.

The real operator subprocess reaches the GCP emulator (gRPC Monitoring over TLS with a test CA,
REST Compute and Cloud SQL) through the endpoint variables its scan Jobs would inherit; the
service-account key comes only from the CloudAccount's Secret.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from cloudios.emulators.gcp.server import GcpEmulator
from tests.e2e.harness import Cluster, OperatorFactory
from tests.e2e.manifests import policy
from tests.e2e.test_operator import ACCOUNTS, POLICIES, published, wait_published
from tests.support.gcp import PROJECT_A, PROJECT_B

pytestmark = [pytest.mark.cluster, pytest.mark.gcp]
GCP_MODULES = [
    {"name": n}
    for n in ("gcp.compute.idle", "gcp.compute.rightsize", "gcp.disk.unattached", "gcp.address.unused")
]


def gcp_account(name: str, secret: str, project: str = PROJECT_A) -> dict[str, Any]:
    return {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": name, "labels": {"cloud": "gcp"}},
        "spec": {
            "provider": "gcp",
            "gcp": {"projectId": project, "serviceAccountKeySecretRef": {"name": secret}},
        },
    }


def test_gcp_account_gives_priced_evidenced_recommendations(
    operators: OperatorFactory, cluster: Cluster, gcp_emulator: GcpEmulator
) -> None:
    key = gcp_emulator.service_account_key(PROJECT_A)
    cluster.secret("gcp-key", {"key.json": json.dumps(key)})
    stale = gcp_emulator.service_account_key(PROJECT_A, email=f"stale@{PROJECT_A}.iam.gserviceaccount.com")
    gcp_emulator.service_account_key(PROJECT_A, email=stale["client_email"])  # rotates: the first key is dead
    cluster.secret("gcp-stale", {"key.json": json.dumps(stale)})
    cluster.create(ACCOUNTS, gcp_account("gcp-prod", "gcp-key"))
    # Another project: a second object for the same one would wait as DuplicateAccount.
    cluster.create(ACCOUNTS, gcp_account("gcp-stale", "gcp-stale", PROJECT_B))
    body = policy(
        "gcp-daily", modules=GCP_MODULES, max_recommendations=6, selector={"matchLabels": {"cloud": "gcp"}}
    )
    cluster.create(POLICIES, body)
    operator = operators(cluster.namespace, **gcp_emulator.environment())

    ready = cluster.wait_condition(ACCOUNTS, "gcp-prod", "Ready", "True", reason="CredentialsVerified")
    assert key["client_email"] in ready["message"]
    bad = cluster.wait_condition(
        ACCOUNTS, "gcp-stale", "CredentialsValid", "False", reason="CredentialsInvalid"
    )
    assert "BEGIN PRIVATE KEY" not in json.dumps(bad)
    wait_published(cluster, "gcp-daily", 6, timeout=120)

    for rec in published(cluster, "gcp-daily").values():
        spec = rec["spec"]
        assert spec["module"].startswith("gcp.")
        assert spec["monthlySavings"]["currency"] == "USD"
        assert float(spec["monthlySavings"]["amount"]) > 0
        assert spec["evidence"]
    logs = operator.text()
    assert key["private_key"].splitlines()[1] not in logs

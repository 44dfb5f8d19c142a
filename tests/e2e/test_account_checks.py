"""CloudAccount checks that need the API server: one object per cloud account, known regions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cloudios.api.names import CLOUD_ACCOUNT, PLURALS, RECOMMENDATION, SCAN_POLICY
from cloudios.services import accounts
from tests.e2e.harness import Cluster, OperatorFactory, eventually, in_process_services
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES = PLURALS[CLOUD_ACCOUNT], PLURALS[SCAN_POLICY]
RECOMMENDATIONS = PLURALS[RECOMMENDATION]


def outcomes(cluster: Cluster, policy_name: str) -> dict[str, str]:
    return {a["name"]: a["outcome"] for a in cluster.get(POLICIES, policy_name)["status"].get("accounts", [])}


def test_a_second_account_object_waits_and_takes_over_when_the_first_goes(
    operators: OperatorFactory, cluster: Cluster
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    operators(cluster.namespace)
    cluster.wait_condition(ACCOUNTS, "prod", "Ready", "True")
    # Same provider and account id, another name: a copy, or the first half of a rename.
    cluster.create(ACCOUNTS, account("prod-v2"))
    duplicate = cluster.wait_condition(ACCOUNTS, "prod-v2", "Ready", "False", reason="DuplicateAccount")
    assert (
        "CloudAccount prod (created earlier) already watches aws account 111111111111" in duplicate["message"]
    )
    assert "DuplicateAccount" in [e.reason for e in cluster.events("prod-v2")]

    cluster.create(POLICIES, policy("daily", max_recommendations=3))

    def first_run() -> dict[str, str] | None:
        found = outcomes(cluster, "daily")
        return found if found.get("prod") == "Succeeded" else None

    assert eventually(first_run, timeout=90, what="prod scanned") == {
        "prod": "Succeeded",
        "prod-v2": "Skipped",
    }
    assert {r["spec"]["accountRef"]["name"] for r in cluster.items(RECOMMENDATIONS)} == {"prod"}

    # Renaming: the old object goes; its findings stay in the store for the retention period, and
    # the new object scans the same cloud account (same finding ids) without colliding with them.
    cluster.delete(ACCOUNTS, "prod")
    cluster.wait_condition(ACCOUNTS, "prod-v2", "Ready", "True", reason="CredentialsVerified", timeout=30)
    cluster.patch(POLICIES, "daily", {"metadata": {"annotations": {"cloudios.io/run-now": "after-rename"}}})

    def renamed_run() -> dict[str, Any] | None:
        pol = cluster.get(POLICIES, "daily")
        done = pol["metadata"]["annotations"].get("cloudios.io/run-now-handled") == "after-rename"
        return pol if done else None

    pol = eventually(renamed_run, timeout=90, what="run after the rename")
    entries = pol["status"]["accounts"]
    assert [(a["name"], a["outcome"]) for a in entries] == [("prod-v2", "Succeeded")], entries
    ready = next(c for c in pol["status"]["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "ScanSucceeded", ready
    recs = eventually(lambda: cluster.items(RECOMMENDATIONS), what="recommendations of prod-v2")
    assert {r["spec"]["accountRef"]["name"] for r in recs} == {"prod-v2"}


def test_an_unknown_region_makes_the_account_not_ready(
    control_plane: ControlPlane, cluster: Cluster, e2e_setup: dict[str, Any], tmp_path: Path
) -> None:
    body = account("nowhere")
    body["spec"]["aws"]["regions"] = ["us-east-1", "zz-nowhere-9"]  # fits the CRD's pattern
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, body)
    services = in_process_services(control_plane.api_client(), tmp_path)
    try:
        # Checked before any AWS call: no endpoint is configured in this process at all.
        asyncio.run(accounts.reconcile(services.accounts, cluster.get(ACCOUNTS, "nowhere")))
    finally:
        services.close()
    for type_ in ("CredentialsValid", "Ready"):
        condition = cluster.condition(ACCOUNTS, "nowhere", type_)
        assert condition is not None
        assert (condition["status"], condition["reason"]) == ("False", "UnknownRegion")
        assert "spec.aws.regions[1]: 'zz-nowhere-9' is not an AWS region" in condition["message"]

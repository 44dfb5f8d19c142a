"""The operator end to end: real API server, moto, `python -m cloudios.controller` as a subprocess."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest

from cloudios.security import tls
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import BASE_SECRET, SECRET_NAME, account, base_secret, policy
from tests.e2e.test_metrics_endpoint import grant_metrics, scrape, service_account_token
from tests.support.controlplane import ControlPlane, free_port

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DECIMAL = re.compile(r"^[0-9]+\.[0-9]{2}$")


def published(cluster: Cluster, policy_name: str) -> dict[str, dict[str, Any]]:
    """The policy's Recommendations by name: labels, owner and spec (what the operator owns)."""
    return {
        r["metadata"]["name"]: {
            "labels": r["metadata"]["labels"],
            "owners": r["metadata"].get("ownerReferences"),
            "spec": {k: v for k, v in r["spec"].items() if k != "decision"},
        }
        for r in cluster.items(RECOMMENDATIONS, f"cloudios.io/policy={policy_name}")
    }


def run_now(cluster: Cluster, policy_name: str, token: str, *, timeout: float = 60.0) -> dict[str, Any]:
    """Ask for a run and wait until the operator has handled it; returns the policy."""
    cluster.patch(POLICIES, policy_name, {"metadata": {"annotations": {"cloudios.io/run-now": token}}})

    def handled() -> dict[str, Any] | None:
        found = cluster.get(POLICIES, policy_name)
        return found if found["metadata"]["annotations"].get("cloudios.io/run-now-handled") == token else None

    return eventually(handled, timeout=timeout, what=f"run-now {token} handled")


def wait_published(cluster: Cluster, policy_name: str, count: int, timeout: float = 90.0) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        found = cluster.get(POLICIES, policy_name)
        ready = next((c for c in found.get("status", {}).get("conditions", []) if c["type"] == "Ready"), {})
        recs = published(cluster, policy_name)
        if ready.get("reason") == "ScanSucceeded" and len(recs) == count:
            return found
        return None

    return eventually(done, timeout=timeout, what=f"{count} recommendations of {policy_name}")


def reasons(cluster: Cluster, name: str) -> list[str]:
    return [e.reason for e in cluster.events(name)]


def test_scan_publishes_stable_recommendations(operators: OperatorFactory, cluster: Cluster) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    created = cluster.create(POLICIES, policy("daily", max_recommendations=5))
    operator = operators(cluster.namespace)

    ready = cluster.wait_condition(ACCOUNTS, "prod", "Ready", "True", reason="CredentialsVerified")
    assert "111111111111" in ready["message"]
    assert cluster.condition(ACCOUNTS, "prod", "CredentialsValid")["status"] == "True"
    pol = wait_published(cluster, "daily", 5)

    first = published(cluster, "daily")
    for name, rec in first.items():
        spec = rec["spec"]
        assert NAME.match(name)
        assert len(name) <= 63
        assert name == f"{spec['module'].replace('.', '-').replace('_', '-')}-{spec['findingId'][:12]}"
        assert rec["labels"]["cloudios.io/account"] == "prod"
        assert rec["labels"]["cloudios.io/policy"] == "daily"
        assert rec["labels"]["cloudios.io/module"] == spec["module"]
        assert rec["labels"]["cloudios.io/category"] == spec["category"]
        assert rec["owners"] == [
            {
                "apiVersion": "cloudios.io/v1alpha1",
                "kind": "ScanPolicy",
                "name": "daily",
                "uid": created["metadata"]["uid"],
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]
        assert DECIMAL.match(spec["monthlySavings"]["amount"]), spec["monthlySavings"]
        assert spec["monthlySavings"]["currency"] == "USD"
        assert spec["accountRef"] == {"name": "prod"}
    savings = sorted((r["spec"]["monthlySavings"]["amount"] for r in first.values()), key=float, reverse=True)
    assert float(savings[0]) > 0
    assert pol["status"]["potentialMonthlySavings"]["amount"]
    assert pol["status"]["accounts"][0]["outcome"] == "Succeeded"
    acct = cluster.get(ACCOUNTS, "prod")
    assert DECIMAL.match(acct["status"]["potentialMonthlySavings"]["amount"])
    assert cluster.condition(ACCOUNTS, "prod", "Scanned")["reason"] == "ScanSucceeded"
    states = {r["status"]["state"] for r in cluster.items(RECOMMENDATIONS)}
    assert states == {"Proposed"}

    # The same reconcile again: identical objects, nothing duplicated.
    run_now(cluster, "daily", "again-1")
    assert published(cluster, "daily") == first

    # A user's decision survives later scans.
    chosen = min(first)
    cluster.patch(RECOMMENDATIONS, chosen, {"spec": {"decision": {"type": "Approved", "reason": "e2e"}}})
    eventually(lambda: cluster.get(RECOMMENDATIONS, chosen)["status"]["state"] == "Approved", what="Approved")
    run_now(cluster, "daily", "again-2")
    after = cluster.get(RECOMMENDATIONS, chosen)
    assert after["spec"]["decision"]["type"] == "Approved"
    assert after["spec"]["decision"]["decidedBy"]
    assert after["status"]["state"] == "Approved"
    assert published(cluster, "daily") == first

    # Events only on transitions; no secret anywhere in the log.
    assert reasons(cluster, "prod").count("CredentialsVerified") == 1
    assert BASE_SECRET not in operator.text()

    # Deleting the account removes its Recommendations and the finalizer lets go.
    cluster.delete(ACCOUNTS, "prod")
    eventually(lambda: not cluster.exists(ACCOUNTS, "prod"), what="CloudAccount gone")
    eventually(
        lambda: not cluster.items(RECOMMENDATIONS, "cloudios.io/account=prod"), what="recommendations gone"
    )
    assert operator.alive()


def test_bad_credentials_set_conditions_without_crash_loop(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("mismatch", account_id="222222222222", role_account="111111111111"))
    cluster.create(ACCOUNTS, account("nosecret", secret="missing-secret"))
    # Its own metrics port: the default 9090 may be taken by another operator, logged as an error.
    port = free_port()
    operator = operators(cluster.namespace, CLOUDIOS_METRICS_PORT=str(port))

    mismatch = cluster.wait_condition(
        ACCOUNTS, "mismatch", "CredentialsValid", "False", reason="AccountMismatch"
    )
    assert "accountId" in mismatch["message"]
    assert "222222222222" in mismatch["message"]
    missing = cluster.wait_condition(
        ACCOUNTS, "nosecret", "CredentialsValid", "False", reason="SecretNotFound"
    )
    assert "missing-secret" in missing["message"]
    assert "aws_access_key_id" in missing["message"]
    assert cluster.condition(ACCOUNTS, "mismatch", "Ready")["reason"] == "AccountMismatch"
    assert cluster.get(ACCOUNTS, "mismatch")["status"]["lastHealthCheck"]["ok"] is False

    time.sleep(8)  # long enough for a crash loop or a retry storm to show
    assert operator.alive()
    for name in ("mismatch", "nosecret"):
        checks = operator.messages(rf"health check of {cluster.namespace}/{name}:")
        assert 1 <= len(checks) <= 2, checks
    assert reasons(cluster, "mismatch").count("AccountMismatch") == 1
    assert reasons(cluster, "nosecret").count("SecretNotFound") == 1
    assert not operator.errors()
    # CloudiosCredentialsInvalid's series: 0 with the credentials reason, per account.
    reader = service_account_token(control_plane, cluster.namespace, "prometheus")
    grant_metrics(control_plane, cluster.namespace, "prometheus")
    found = scrape(port, reader, operator.env["CLOUDIOS_WEBHOOK_CA_FILE"])
    valid = {
        (s.labels["account"], s.labels["reason"]): s.value
        for s in found["cloudios_account_credentials_valid"]
        if s.labels["namespace"] == cluster.namespace
    }
    assert valid == {("mismatch", "AccountMismatch"): 0, ("nosecret", "SecretNotFound"): 0}


def test_invalid_policies_report_conditions(operators: OperatorFactory, cluster: Cluster) -> None:
    # Created while no operator serves the schedule webhook (it fails open), which would refuse
    # the bad cron at admission: the operator must still report what got past it.
    cluster.create(POLICIES, policy("bad-cron", schedule="every day at six"))
    cluster.create(POLICIES, policy("bad-module", modules=[{"name": "aws.ec2.nonexistent"}]))
    operator = operators(cluster.namespace)
    cron = cluster.wait_condition(POLICIES, "bad-cron", "Ready", "False", reason="InvalidSchedule")
    assert "spec.schedule" in cron["message"]
    assert "every day at six" in cron["message"]
    module = cluster.wait_condition(POLICIES, "bad-module", "Ready", "False", reason="InvalidModule")
    assert "spec.modules[0].name" in module["message"]
    assert "aws.ec2.idle" in module["message"]
    # The Event is posted after the condition is written: wait for it rather than race it.
    eventually(lambda: "InvalidSchedule" in reasons(cluster, "bad-cron"), what="the InvalidSchedule Event")

    # Fixing the spec clears the condition.
    cluster.patch(POLICIES, "bad-cron", {"spec": {"schedule": "0 6 * * *"}})
    cluster.wait_condition(POLICIES, "bad-cron", "Ready", "True")
    assert operator.alive()

    # The liveness endpoint answers over TLS 1.3 while the event loop beats.
    port, ca = operator.env["CLOUDIOS_METRICS_PORT"], operator.env["CLOUDIOS_WEBHOOK_CA_FILE"]

    def live() -> bool:
        try:
            url = f"https://127.0.0.1:{port}/healthz"
            return httpx.get(url, verify=tls.client_context(ca), timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    eventually(live, what="liveness endpoint")


def test_suspended_account_is_not_scanned(operators: OperatorFactory, cluster: Cluster) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("paused", suspend=True))
    cluster.create(POLICIES, policy("daily"))
    operator = operators(cluster.namespace)
    cluster.wait_condition(ACCOUNTS, "paused", "Ready", "False", reason="Suspended")

    def skipped() -> dict[str, Any] | None:
        entries = cluster.get(POLICIES, "daily").get("status", {}).get("accounts") or []
        return entries[0] if entries and entries[0]["outcome"] == "Skipped" else None

    entry = eventually(skipped, what="skip recorded")
    assert entry["name"] == "paused"
    assert "suspend" in entry["message"]
    time.sleep(3)
    assert cluster.condition(ACCOUNTS, "paused", "Scanned")["reason"] == "NotScannedYet"
    assert cluster.condition(ACCOUNTS, "paused", "CredentialsValid") is None  # never probed
    assert not cluster.items(RECOMMENDATIONS)
    assert not operator.messages(r"health check of .*/paused")

    # Resuming runs the health check and the first scan.
    cluster.patch(ACCOUNTS, "paused", {"spec": {"suspend": False}})
    cluster.wait_condition(ACCOUNTS, "paused", "Ready", "True")
    wait_published(cluster, "daily", 5)


def test_killed_mid_scan_leaves_no_duplicates(operators: OperatorFactory, cluster: Cluster) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, policy("daily", max_recommendations=8))
    operator = operators(cluster.namespace)
    # Kill while the run publishes: some Recommendations exist, the run is not recorded yet.
    eventually(lambda: cluster.items(RECOMMENDATIONS), timeout=90, every=0.05, what="first recommendation")
    operator.kill()
    assert "lastRunTime" not in (cluster.get(POLICIES, "daily").get("status") or {})

    operator.start()
    wait_published(cluster, "daily", 8)
    recs = cluster.items(RECOMMENDATIONS)
    finding_ids = [r["spec"]["findingId"] for r in recs]
    assert len(recs) == 8
    assert len(set(finding_ids)) == 8

    # Deleting the policy removes its Recommendations (ownerReferences do the same with a GC).
    cluster.delete(POLICIES, "daily")
    eventually(lambda: not cluster.items(RECOMMENDATIONS), what="recommendations removed with the policy")


def test_recovers_after_apiserver_restart(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("before"))
    operator = operators(cluster.namespace)
    cluster.wait_condition(ACCOUNTS, "before", "Ready", "True")

    control_plane.restart_apiserver()
    # Another cloud account: a second object for the same one would wait as DuplicateAccount.
    cluster.create(ACCOUNTS, account("after", account_id="333333333333"))
    cluster.wait_condition(ACCOUNTS, "after", "Ready", "True", timeout=90)
    assert operator.alive()


def test_two_replicas_only_one_acts(operators: OperatorFactory, cluster: Cluster) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    # Same webhook port (SO_REUSEPORT, like two pods behind one Service), random priorities.
    port = str(free_port())
    first = operators(cluster.namespace, name="replica-a", CLOUDIOS_WEBHOOK_PORT=port)
    second = operators(cluster.namespace, name="replica-b", CLOUDIOS_WEBHOOK_PORT=port)
    for replica in (first, second):
        replica.wait_for_log(r"^starting:")
    time.sleep(3)  # both have seen each other in the peering object
    cluster.create(ACCOUNTS, account("one"))
    cluster.wait_condition(ACCOUNTS, "one", "Ready", "True")
    time.sleep(2)

    acting = [r for r in (first, second) if r.messages(r"health check of .*/one:")]
    assert len(acting) == 1, [r.name for r in acting]
    active, standby = acting[0], (second if acting[0] is first else first)
    assert reasons(cluster, "one").count("CredentialsVerified") == 1

    active.kill()
    cluster.create(ACCOUNTS, account("two", account_id="333333333333"))  # not a duplicate of one
    cluster.wait_condition(ACCOUNTS, "two", "Ready", "True", timeout=60)
    assert standby.messages(r"health check of .*/two:")
    assert standby.alive()
    assert reasons(cluster, "one").count("CredentialsVerified") == 1

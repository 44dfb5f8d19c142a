"""An account skipped as not Ready degrades its policy, and is re-checked with backoff when the
cloud endpoint comes back, not an interval later; routine timer successes stay out of the log."""

from __future__ import annotations

from typing import Any

import pytest

from cloudios.api.names import CLOUD_ACCOUNT, PLURALS, SCAN_POLICY
from cloudios.emulators.aws.server import start_moto_server
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import free_port

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES = PLURALS[CLOUD_ACCOUNT], PLURALS[SCAN_POLICY]


def test_skipped_account_degrades_the_policy_and_is_rechecked_when_the_endpoint_returns(
    operators: OperatorFactory, cluster: Cluster
) -> None:
    port = free_port()  # nothing listens here yet: the cloud endpoint is down
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    cluster.create(POLICIES, policy("daily"))
    operator = operators(
        cluster.namespace,
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}",
        CLOUDIOS_HEALTH_RETRY_SECONDS="1",  # the interval stays 3600 s
    )
    cluster.wait_condition(ACCOUNTS, "prod", "Ready", "False", reason="EndpointUnreachable")

    # The policy does not look green over an account it cannot scan.
    def degraded() -> dict[str, Any] | None:
        found = cluster.condition(POLICIES, "daily", "Degraded") or {}
        return found if "prod: not Ready (EndpointUnreachable)" in found.get("message", "") else None

    assert eventually(degraded, what="Degraded names the account")["reason"] == "AccountsSkipped"
    entries = cluster.get(POLICIES, "daily")["status"]["accounts"]
    assert [(e["name"], e["outcome"]) for e in entries] == [("prod", "Skipped")]
    assert ("Warning", "AccountsSkipped") in [(e.type, e.reason) for e in cluster.events("daily")]

    # While the endpoint is down the account is re-checked with backoff (1 s, 2 s, 4 s, ...).
    operator.wait_for_log(r"CloudAccount .*/prod: transient failure 1 \(EndpointUnreachable\)", timeout=20)

    # The endpoint comes back (the emulator in this process holds the seeded estate): the account
    # is re-checked within seconds, scanned, and the policy is whole again.
    server = start_moto_server(port)
    try:
        cluster.wait_condition(ACCOUNTS, "prod", "Ready", "True", timeout=45)
        ready = cluster.wait_condition(POLICIES, "daily", "Ready", "True", reason="ScanSucceeded", timeout=90)
        assert "scanned 1 of 1 due account(s)" in ready["message"]
        cluster.wait_condition(POLICIES, "daily", "Degraded", "False", reason="AccountsReady")
    finally:
        server.stop()
    assert ("Normal", "AccountsReady") in [(e.type, e.reason) for e in cluster.events("daily")]

    # Routine successes are not logged at INFO (the scheduler ticked every 2 s meanwhile, and the
    # published Recommendations each made watch events).
    assert operator.messages(r"^policy .*/daily: scanning")
    assert not operator.messages(r"^Timer '.*' succeeded\.$")
    assert not operator.messages(r"^Handler 'follow-decision' succeeded\.$")

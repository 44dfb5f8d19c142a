"""Schedules: one that never fires is refused at admission and by the operator; a run whose
publishing fails is still recorded with its next run, and is not scanned again."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from cloudios.api.names import CLOUD_ACCOUNT, PLURALS, RECOMMENDATION, SCAN_POLICY
from cloudios.services import policy_runs
from cloudios.services.context import Services
from cloudios.sinks.notices import Notice
from tests.e2e.conftest import Estate
from tests.e2e.harness import (
    Cluster,
    OperatorFactory,
    aws_emulator_env,
    eventually,
    in_process_services,
    mark_ready,
)
from tests.e2e.manifests import ESTATE_ACCOUNT, SECRET_NAME, account, base_secret, policy
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS, POLICIES = PLURALS[CLOUD_ACCOUNT], PLURALS[SCAN_POLICY]
RECOMMENDATIONS = PLURALS[RECOMMENDATION]
NEVER = "0 0 31 2 *"  # February 31st


@pytest.fixture
def data_dir(
    estate: Estate, e2e_setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Path:
    """For runs in this process: the CRDs, the seeded emulator in the environment, a store directory."""
    aws_emulator_env(monkeypatch, estate.url)
    return tmp_path


def ticks(services: Services, cluster: Cluster, name: str, count: int) -> list[Notice]:
    """``count`` scheduler ticks of policy ``name``, in one event loop, as the operator runs them."""

    async def run() -> list[Notice]:
        notices: list[Notice] = []
        for _ in range(count):
            notices.extend(await policy_runs.tick(services.policies, cluster.get(POLICIES, name)))
        return notices

    return asyncio.run(run())


def test_a_schedule_that_never_fires_is_invalid_and_scans_nothing(
    control_plane: ControlPlane, cluster: Cluster, data_dir: Path
) -> None:
    # Created past the webhook (it fails open while no operator serves it): the operator decides.
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    mark_ready(cluster, "prod")
    cluster.create(POLICIES, policy("never", schedule=NEVER))
    services = in_process_services(control_plane.api_client(), data_dir)
    try:
        # Before the fix: each tick scanned, then schedule.next_after raised; no status, no Event.
        notices = ticks(services, cluster, "never", 3)
        assert services.store.scans(cluster.namespace) == []
    finally:
        services.close()
    ready = cluster.condition(POLICIES, "never", "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSchedule")
    assert f"'{NEVER}' never runs" in ready["message"]
    assert "spec.schedule" in ready["message"]
    assert [n.reason for n in notices if n.type == "Warning"] == ["InvalidSchedule"]


def test_a_run_whose_publishing_fails_is_recorded_and_not_scanned_again(
    control_plane: ControlPlane, cluster: Cluster, data_dir: Path
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    cluster.create(ACCOUNTS, account("prod"))
    mark_ready(cluster, "prod")
    cluster.create(POLICIES, policy("daily", max_recommendations=3))
    # The operator's identity, minus the right to create Recommendations: publishing fails after
    # the scan (as it would with the API server refusing or going away at that moment).
    user = f"op-{secrets.token_hex(3)}"
    rbac = k8s.RbacAuthorizationV1Api(control_plane.api_client())
    rules = [
        k8s.V1PolicyRule(
            api_groups=["cloudios.io"], resources=[ACCOUNTS, POLICIES], verbs=["get", "list", "patch"]
        ),
        k8s.V1PolicyRule(
            api_groups=["cloudios.io"],
            resources=[f"{ACCOUNTS}/status", f"{POLICIES}/status"],
            verbs=["patch"],
        ),
        k8s.V1PolicyRule(api_groups=["cloudios.io"], resources=[RECOMMENDATIONS], verbs=["get", "list"]),
        k8s.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get"]),
    ]
    rbac.create_namespaced_role(
        cluster.namespace, k8s.V1Role(metadata=k8s.V1ObjectMeta(name="no-publish"), rules=rules)
    )
    rbac.create_namespaced_role_binding(
        cluster.namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name="no-publish"),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="no-publish"),
            subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=user)],
        ),
    )
    services = in_process_services(control_plane.impersonating(user), data_dir)
    # What the account's credential check records first (publishing reads only live accounts).
    services.store.upsert_account(
        tenant=cluster.namespace,
        name="prod",
        provider="aws",
        account_id=ESTATE_ACCOUNT,
        now=datetime.now(UTC),
    )
    try:
        eventually(lambda: cluster.items(ACCOUNTS), what="RBAC in effect")
        # Before the fix the 403 escaped the tick: no status, and the account was due again.
        ticks(services, cluster, "daily", 2)
        assert len(services.store.scans(cluster.namespace)) == 1, "scanned again"
        status = cluster.get(POLICIES, "daily")["status"]
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("False", "PublishFailed"), ready
        assert "403" in ready["message"]
        assert status["lastRunTime"]
        assert status["nextRunTime"]
        assert [(a["name"], a["outcome"]) for a in status["accounts"]] == [("prod", "Succeeded")]
        assert cluster.items(RECOMMENDATIONS) == []

        # With the rights back, the next tick publishes from the store, without a new scan.
        restored = in_process_services(control_plane.api_client(), data_dir, store=services.store)
        ticks(restored, cluster, "daily", 1)
        assert len(services.store.scans(cluster.namespace)) == 1
        restored.kube.close()
    finally:
        services.close()
    ready = cluster.condition(POLICIES, "daily", "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("True", "ScanSucceeded")
    assert len(cluster.items(RECOMMENDATIONS)) == 3
    assert cluster.get(POLICIES, "daily")["status"]["lastRunTime"] == status["lastRunTime"]


def test_admission_refuses_a_schedule_that_never_fires(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane
) -> None:
    operator = operators(cluster.namespace)
    admission = k8s.AdmissionregistrationV1Api(control_plane.api_client())
    port = operator.env["CLOUDIOS_WEBHOOK_PORT"]

    def served() -> bool:
        config = admission.read_validating_webhook_configuration(operator.env["CLOUDIOS_WEBHOOK_MANAGED"])
        urls = [h.client_config.url or "" for h in config.webhooks or []]
        return any(f":{port}/validate-scanpolicy-schedule" in url for url in urls)

    eventually(served, what="the ScanPolicy webhook of this operator")
    with pytest.raises(k8s.ApiException) as refused:
        cluster.create(POLICIES, policy("never", schedule=NEVER))
    assert refused.value.status == 422
    assert "spec.schedule" in str(refused.value.body)
    assert "never runs" in str(refused.value.body)
    assert not cluster.exists(POLICIES, "never")
    # A schedule that fires passes, and so does an update that leaves the schedule alone.
    cluster.create(POLICIES, policy("daily"))
    cluster.patch(POLICIES, "daily", {"metadata": {"labels": {"team": "a"}}})
    with pytest.raises(k8s.ApiException):
        cluster.patch(POLICIES, "daily", {"spec": {"schedule": "0 0 30 2 *"}})
    assert operator.alive()
    # The webhook's routine success (every ScanPolicy write) is not logged at INFO (item 9).
    assert not operator.messages(r"^Webhook 'validate-scanpolicy-schedule' succeeded\.$")

"""ScanPolicy reconcile decides from the live object, not from a stale event body."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cloudios.api import GROUP, VERSION
from cloudios.services import context, policy_runs
from cloudios.services.settings import OperatorSettings
from cloudios.sinks.kube import Kube
from tests.e2e.harness import Cluster
from tests.e2e.manifests import policy
from tests.support.controlplane import ControlPlane

pytestmark = pytest.mark.cluster

POLICIES = "scanpolicies"


def test_a_create_event_older_than_a_finished_run_does_not_reset_ready(
    control_plane: ControlPlane, cluster: Cluster, e2e_setup: dict[str, Any], tmp_path: Path
) -> None:
    # The scheduler timer may fire (and finish a run) before the create handler gets its turn; the
    # handler's body is then the object as created, without any status.
    stale = cluster.create(POLICIES, policy("daily"))
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        cluster.namespace,
        POLICIES,
        "daily",
        {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "ScanSucceeded",
                        "message": "1 account scanned",
                        "lastTransitionTime": "2026-11-26T06:00:00Z",
                        "observedGeneration": stale["metadata"]["generation"],
                    }
                ],
                "lastRunTime": "2026-11-26T06:00:00Z",
            }
        },
    )
    settings = OperatorSettings.from_env({"CLOUDIOS_DATA_DIR": str(tmp_path)})
    services = context.build(
        settings, kube=Kube(control_plane.api_client(), settings.request_timeout_seconds)
    )
    try:
        asyncio.run(policy_runs.reconcile(services.policies, stale))
    finally:
        services.close()
    ready = cluster.condition(POLICIES, "daily", "Ready")
    assert ready is not None
    assert ready["reason"] == "ScanSucceeded"
    assert cluster.get(POLICIES, "daily")["status"].get("nextRunTime")

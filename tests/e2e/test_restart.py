"""A killed operator restarted alone resumes at once instead of waiting out its own dead record."""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client as k8s

from cloudios.api.names import CLOUD_ACCOUNT, PLURALS
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.e2e.manifests import SECRET_NAME, account, base_secret
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.aws]

ACCOUNTS = PLURALS[CLOUD_ACCOUNT]


def test_a_killed_operator_resumes_at_once(
    operators: OperatorFactory, cluster: Cluster, control_plane: ControlPlane
) -> None:
    cluster.secret(SECRET_NAME, base_secret())
    # The worst case: the killed run's record outranks the new one and would live another minute.
    operator = operators(
        cluster.namespace, CLOUDIOS_PEERING_LIFETIME_SECONDS="60", CLOUDIOS_PEERING_PRIORITY="100"
    )
    custom = k8s.CustomObjectsApi(control_plane.api_client())

    def records() -> dict[str, Any]:
        found = custom.get_namespaced_custom_object(
            "kopf.dev", "v1", cluster.namespace, "kopfpeerings", "cloudios"
        )
        return dict(found.get("status") or {})

    first = eventually(records, what="the operator's peering record")
    operator.kill()  # SIGKILL: no goodbye, the record stays
    operator.env["CLOUDIOS_PEERING_PRIORITY"] = "1"
    operator.start()
    began = time.monotonic()
    cluster.create(ACCOUNTS, account("after"))
    cluster.wait_condition(ACCOUNTS, "after", "Ready", "True", timeout=25)
    assert time.monotonic() - began < 25  # before the fix: paused until the dead record expired
    assert operator.messages(r"^removed the peering record\(s\) of this operator's earlier run")
    assert not operator.messages(r"^Pausing operations")
    assert set(first).isdisjoint(records())

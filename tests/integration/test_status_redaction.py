"""Status written through sinks.kube reaches the API server redacted: readers of an object see no secret."""

from __future__ import annotations

import copy

import pytest
from kubernetes import client as k8s

from cloudios.api.names import CLOUD_ACCOUNT
from cloudios.sinks.kube import Kube
from tests.integration.test_crds_cluster import AWS_ACCOUNT, GROUP, ROOT, VERSION, apply_crds
from tests.support.controlplane import ControlPlane

pytestmark = pytest.mark.cluster

TOKEN = "IQoJb3JpZ2luX2VjEHcaCXVzLWVhc3QtMSJGMEQCIBnNfEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"


def test_status_patches_are_redacted(control_plane: ControlPlane, namespace: str) -> None:
    apply_crds(control_plane, ROOT / "crds")
    objects = k8s.CustomObjectsApi(control_plane.api_client())
    objects.create_namespaced_custom_object(
        GROUP, VERSION, namespace, "cloudaccounts", copy.deepcopy(AWS_ACCOUNT)
    )
    message = f"AWS said: token {TOKEN}, key {SECRET_KEY}"
    status = {
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "AwsApiError",
                "message": message,
                "lastTransitionTime": "2026-11-02T09:30:00Z",
            }
        ],
        "lastHealthCheck": {
            "time": "2026-11-02T09:30:00Z",
            "ok": False,
            "reason": "AwsApiError",
            "message": message,
        },
    }
    kube = Kube(control_plane.api_client(), timeout=30)
    assert kube.patch_status(CLOUD_ACCOUNT, namespace, "prod", status)
    stored = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, "cloudaccounts", "prod")
    text = str(stored["status"])
    assert TOKEN not in text
    assert SECRET_KEY not in text
    assert stored["status"]["conditions"][0]["message"] == "AWS said: token [REDACTED], key [REDACTED]"
    assert status["conditions"][0]["message"] == message  # the caller's copy is untouched

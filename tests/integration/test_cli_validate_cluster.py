"""`cloudios validate` against the real API server: a manifest the server refuses for a CEL rule is
refused offline with the same message, and one it accepts passes offline too."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from cloudios.cli import validate
from tests.integration.test_crds_cluster import AWS_ACCOUNT, AZURE_BLOCK, POLICY, apply_crds
from tests.support.controlplane import ControlPlane

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]
GROUP, VERSION = "cloudios.io", "v1alpha1"
UNPROCESSABLE = 422
PLURALS = {"CloudAccount": "cloudaccounts", "ScanPolicy": "scanpolicies"}


def variant(base: dict[str, Any], **spec: Any) -> dict[str, Any]:
    body = copy.deepcopy(base)
    body["spec"].update(spec)
    return body


AZURE = {**AWS_ACCOUNT, "metadata": {"name": "az"}, "spec": {"provider": "azure", "azure": AZURE_BLOCK}}
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # letters, so that only lowerAscii() makes it equal
REFUSED_BY_CEL = {
    "client id equals tenant id": variant(
        AZURE, azure={**AZURE_BLOCK, "tenantId": TENANT, "clientId": TENANT.upper()}
    ),
    "subscription equals tenant": variant(
        AZURE, azure={**AZURE_BLOCK, "subscriptionId": AZURE_BLOCK["tenantId"]}
    ),
    "two provider blocks": variant(AWS_ACCOUNT, kubernetes={"clusterName": "c"}),
    "a module twice": variant(POLICY, modules=[{"name": "aws.ec2.idle"}, {"name": "aws.ec2.idle"}]),
}


@pytest.fixture(scope="module")
def api(control_plane: ControlPlane) -> k8s.CustomObjectsApi:
    apply_crds(control_plane, ROOT / "crds")
    return k8s.CustomObjectsApi(control_plane.api_client())


def server_says(api: k8s.CustomObjectsApi, namespace: str, body: dict[str, Any]) -> str | None:
    """The API server's refusal of a dry-run create, or None when it accepts it."""
    try:
        api.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURALS[body["kind"]], body, dry_run="All"
        )
    except k8s.ApiException as exc:
        if exc.status != UNPROCESSABLE:
            raise
        return str(json.loads(exc.body)["message"])
    return None


def offline(tmp_path: Path, namespace: str, body: dict[str, Any]) -> list[validate.Problem]:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({**body, "metadata": {**body["metadata"], "namespace": namespace}}))
    _, problems = validate.validate([str(path)])
    return problems


@pytest.mark.parametrize("case", sorted(REFUSED_BY_CEL))
def test_a_cel_refusal_has_the_servers_message_offline(
    api: k8s.CustomObjectsApi, namespace: str, tmp_path: Path, case: str
) -> None:
    body = REFUSED_BY_CEL[case]
    refusal = server_says(api, namespace, body)
    assert refusal is not None, f"the API server accepted {case}"
    problems = offline(tmp_path, namespace, body)
    cel = [p for p in problems if p.field is not None and f"{p.field}: Invalid value" in refusal]
    assert cel, (refusal, problems)
    print(f"{case}: server: {refusal}")
    for problem in cel:
        assert problem.message in refusal  # the rule's own message, word for word


@pytest.mark.parametrize("body", [AWS_ACCOUNT, AZURE, POLICY], ids=["aws", "azure", "policy"])
def test_what_the_server_accepts_passes_offline(
    api: k8s.CustomObjectsApi, namespace: str, tmp_path: Path, body: dict[str, Any]
) -> None:
    assert server_says(api, namespace, body) is None
    assert offline(tmp_path, namespace, body) == []

"""The operator chart installed for real: install, upgrade with --reuse-values, uninstall; what stays."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest
from kubernetes import client as k8s

from tests.support.chart import CHART, GROUP, apply_crds_for_real, render
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.helm]


def status_of(action: Callable[[], object]) -> int:
    try:
        action()
    except k8s.ApiException as exc:
        return int(exc.status)
    return 200


CRD_NAMES = [
    *(f"crd/{plural}.{GROUP}" for plural in ("cloudaccounts", "scanpolicies", "recommendations")),
    *(f"crd/{plural}.kopf.dev" for plural in ("clusterkopfpeerings", "kopfpeerings")),
]


def hand_crds_to(plane: ControlPlane, release: str | None, namespace: str = "") -> None:
    """Let Helm adopt the CRDs other tests applied with kubectl (or give them back afterwards)."""
    if release is None:
        plane.kubectl("annotate", *CRD_NAMES, "meta.helm.sh/release-name-", "meta.helm.sh/release-namespace-")
        return
    plane.kubectl(
        "annotate", "--overwrite", *CRD_NAMES,
        f"meta.helm.sh/release-name={release}", f"meta.helm.sh/release-namespace={namespace}",
    )  # fmt: skip
    plane.kubectl("label", "--overwrite", *CRD_NAMES, "app.kubernetes.io/managed-by=Helm")


def test_install_upgrade_uninstall(control_plane: ControlPlane, namespace: str) -> None:
    release = f"c{secrets.token_hex(3)}"
    args = (
        "--namespace", namespace,
        "--set", "masterKey.devGenerate=true",
        "--set", "rbac.create=false",  # the user-facing ClusterRoles are shared with the RBAC tests
        "--set", "operator.peering.enabled=true",
        "--set", "operator.peering.name=" + release,
    )  # fmt: skip
    apply_crds_for_real(control_plane, render(control_plane, *args[2:]))
    hand_crds_to(control_plane, release, namespace)
    admission = k8s.AdmissionregistrationV1Api(control_plane.api_client())
    core = k8s.CoreV1Api(control_plane.api_client())
    extensions = k8s.ApiextensionsV1Api(control_plane.api_client())
    name = f"{release}-cloudios"
    try:
        control_plane.helm("install", release, CHART, *args)
        crd = extensions.read_custom_resource_definition(f"cloudaccounts.{GROUP}")
        assert crd.metadata.labels["helm.sh/chart"] == "cloudios-0.1.0"
        assert crd.metadata.annotations["helm.sh/resource-policy"] == "keep"
        # The post-install hook created the peering object once kopf's CRDs existed.
        peering = k8s.CustomObjectsApi(control_plane.api_client()).get_cluster_custom_object(
            "kopf.dev", "v1", "clusterkopfpeerings", release
        )
        assert peering["metadata"]["name"] == release
        first = admission.read_validating_webhook_configuration(name).webhooks[0].client_config.ca_bundle
        key = core.read_namespaced_secret(f"{name}-master-key", namespace)
        audit_keys = core.read_namespaced_secret(f"{name}-audit-keys", namespace)
        # --reuse-values proves nothing computed while rendering (the memoised PEMs) leaks into the
        # stored values, where the strict schema would then refuse the next upgrade.
        control_plane.helm("upgrade", release, CHART, "--namespace", namespace, "--reuse-values")
        stored = json.loads(
            control_plane.helm("get", "values", release, "-n", namespace, "-o", "json").stdout
        )
        assert "generatedPEM" not in json.dumps(stored)
        again = admission.read_validating_webhook_configuration(name).webhooks[0].client_config.ca_bundle
        assert again == first, "the webhook CA must survive an upgrade (the running pod still serves it)"
        key_again = core.read_namespaced_secret(f"{name}-master-key", namespace)
        assert key_again.data == key.data, "the generated master key must survive an upgrade"
        audit_again = core.read_namespaced_secret(f"{name}-audit-keys", namespace)
        assert audit_again.data == audit_keys.data, "the audit keys must survive an upgrade"
    finally:
        control_plane.helm("uninstall", release, "--namespace", namespace, check=False)
        hand_crds_to(control_plane, None)
    # The webhook configurations go with the release; nothing is left to block other tests.
    assert status_of(lambda: admission.read_validating_webhook_configuration(name)) == 404
    assert status_of(lambda: core.read_namespaced_service(name, namespace)) == 404
    # Kept: the CRDs (and so every user object) and the generated master key.
    assert extensions.read_custom_resource_definition(f"cloudaccounts.{GROUP}").metadata.name
    assert core.read_namespaced_secret(f"{name}-master-key", namespace).data
    assert core.read_namespaced_secret(f"{name}-audit-keys", namespace).data

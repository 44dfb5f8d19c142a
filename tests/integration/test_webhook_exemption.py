"""The chart's webhook exemption, evaluated by the real API server: the operator publishes without
waiting on its webhook, but nobody, the operator and the scan Jobs included, sets a decision unseen.

The rendered ValidatingWebhookConfiguration is applied as the chart writes it, scoped to this test's
namespace, pointing at a Service with no endpoints and `failurePolicy: Fail`. So a request the match
conditions send to the webhook fails with "failed calling webhook", and one they exempt goes
through: the API server's own CEL evaluation of our conditions is what is tested.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.support.chart import KEY, apply_crds_for_real, render
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster, pytest.mark.helm]
GROUP, VERSION, PLURAL = "cloudios.io", "v1alpha1", "recommendations"


def recommendation(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Recommendation",
        "metadata": {"name": name},
        "spec": {
            "findingId": "0" * 64,
            "accountRef": {"name": "prod"},
            "policyRef": {"name": "daily"},
            "priceBasis": "list",
            "provider": "aws",
            "accountId": "123456789012",
            "region": "us-east-1",
            "resourceType": "ec2.instance",
            "resourceId": "i-1",
            "module": "aws.ec2.idle",
            "category": "idle",
            "action": "stop",
            "title": "Stop idle EC2 instance i-1",
            "confidence": "high",
            "monthlySavings": {"amount": "10.00", "currency": "USD"},
        },
    }


@pytest.fixture
def webhook(control_plane: ControlPlane, namespace: str) -> Iterator[list[dict[str, Any]]]:
    docs = render(control_plane, *KEY, "--set", "operator.scanExecutor=job", namespace=namespace)
    apply_crds_for_real(control_plane, docs)
    (config,) = [d for d in docs if d["kind"] == "ValidatingWebhookConfiguration"]
    config["metadata"]["name"] = f"cloudios-{namespace}"
    for hook in config["webhooks"]:
        hook["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
        hook["timeoutSeconds"] = 2
    admission = k8s.AdmissionregistrationV1Api(control_plane.api_client())
    admission.create_validating_webhook_configuration(config)
    rbac = k8s.RbacAuthorizationV1Api(control_plane.api_client())
    for sa in (
        "cloudios",
        "cloudios-scan",
    ):  # both may write recommendations here, so only the webhook decides
        role = k8s.V1Role(
            metadata=k8s.V1ObjectMeta(name=f"{sa}-writes"),
            rules=[
                k8s.V1PolicyRule(api_groups=[GROUP], resources=[PLURAL], verbs=["create", "patch", "get"])
            ],
        )
        rbac.create_namespaced_role(namespace, role)
        rbac.create_namespaced_role_binding(
            namespace,
            k8s.V1RoleBinding(
                metadata=k8s.V1ObjectMeta(name=f"{sa}-writes"),
                role_ref=k8s.V1RoleRef(
                    api_group="rbac.authorization.k8s.io", kind="Role", name=f"{sa}-writes"
                ),
                subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name=sa, namespace=namespace)],
            ),
        )
    try:
        yield docs
    finally:
        with contextlib.suppress(ApiException):
            admission.delete_validating_webhook_configuration(f"cloudios-{namespace}")


def as_account(plane: ControlPlane, namespace: str, name: str) -> k8s.CustomObjectsApi:
    user = f"system:serviceaccount:{namespace}:{name}"
    return k8s.CustomObjectsApi(
        plane.impersonating(user, ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"])
    )


def sent_to_webhook(call: Any) -> bool:
    try:
        call()
    except ApiException as exc:
        return "failed calling webhook" in str(exc.body)
    return False


def test_the_operator_publishes_unseen_but_never_decides_unseen(
    control_plane: ControlPlane, namespace: str, webhook: list[dict[str, Any]]
) -> None:
    operator = as_account(control_plane, namespace, "cloudios")
    operator.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, recommendation("r1"))
    operator.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "r1", {"spec": {"title": "refreshed by a later scan"}}
    )
    decision = {"spec": {"decision": {"type": "Approved", "decidedBy": "system:serviceaccount:x:cloudios"}}}
    assert sent_to_webhook(
        lambda: operator.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "r1", decision)
    )
    decided = recommendation("r2")
    decided["spec"]["decision"] = {"type": "Approved"}
    assert sent_to_webhook(
        lambda: operator.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, decided)
    )


def test_scan_jobs_and_others_always_meet_the_webhook(
    control_plane: ControlPlane, namespace: str, webhook: list[dict[str, Any]]
) -> None:
    as_account(control_plane, namespace, "cloudios").create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, recommendation("r1")
    )
    job = as_account(control_plane, namespace, "cloudios-scan")
    assert sent_to_webhook(
        lambda: job.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "r1", {"spec": {"decision": {"type": "Approved"}}}
        )
    )
    assert sent_to_webhook(
        lambda: job.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "r1", {"spec": {"title": "x"}}
        )
    )

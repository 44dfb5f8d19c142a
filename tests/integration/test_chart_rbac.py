"""The chart's RBAC on a real API server: the user-facing roles and the operator's own Secret access."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from kubernetes import client as k8s

from tests.support.chart import GROUP, KEY, VERSION, apply_crds_for_real, dump, render
from tests.support.controlplane import ControlPlane
from tests.support.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.helm]


def bind(api: k8s.ApiClient, namespace: str, role: str, user: str) -> None:
    k8s.RbacAuthorizationV1Api(api).create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name=f"{role}-{user}"),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
            subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=user)],
        ),
    )


def may(api: k8s.ApiClient, verb: str, resource: str, namespace: str) -> bool:
    """SelfSubjectAccessReview: what the webhook's SubjectAccessReview would answer for `verb`."""
    review = k8s.AuthorizationV1Api(api).create_self_subject_access_review(
        k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(
                    group=GROUP, resource=resource, verb=verb, namespace=namespace
                )
            )
        )
    )
    return bool(review.status.allowed)


def status_of(action: Callable[[], object]) -> int:
    try:
        action()
    except k8s.ApiException as exc:
        return int(exc.status)
    return 200


ACCOUNT = {
    "apiVersion": f"{GROUP}/{VERSION}",
    "kind": "CloudAccount",
    "metadata": {"name": "prod"},
    "spec": {
        "provider": "aws",
        "aws": {
            "accountId": "123456789012",
            "roleArn": "arn:aws:iam::123456789012:role/cloudios-readonly",
            "externalId": "ext-123",
            "regions": ["us-east-1"],
        },
    },
}
POLICY = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ScanPolicy", "metadata": {"name": "daily"}, "spec": {}}


def recommendation(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Recommendation",
        "metadata": {"name": name},
        "spec": {
            "accountRef": {"name": "prod"},
            "policyRef": {"name": "daily"},
            "findingId": secrets.token_hex(10),
            "provider": "aws",
            "accountId": "123456789012",
            "region": "us-east-1",
            "resourceType": "ebs.volume",
            "resourceId": "vol-0abc",
            "module": "aws.ebs.unattached",
            "category": "orphaned",
            "action": "delete",
            "title": "Delete unattached volume vol-0abc",
            "confidence": "high",
            "monthlySavings": {"amount": "8.00", "currency": "USD"},
            "priceBasis": "list",
        },
    }


@pytest.fixture
def roles(control_plane: ControlPlane, namespace: str) -> str:
    docs = render(control_plane, *KEY, "--show-only", "templates/rbac-roles.yaml")
    assert sorted(d["metadata"]["name"] for d in docs) == [
        "cloudios-admin",
        "cloudios-member",
        "cloudios-owner",
    ]
    apply_crds_for_real(control_plane, render(control_plane, *KEY, "--show-only", "templates/crds.yaml"))
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=dump(docs))
    objects = k8s.CustomObjectsApi(control_plane.api_client())
    eventually(
        lambda: objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "recommendations", recommendation("seed")
        ),
        what="seed recommendation created",
    )
    return namespace


def test_member_reads_but_cannot_change(control_plane: ControlPlane, roles: str) -> None:
    user = f"mia-{secrets.token_hex(3)}"
    api = k8s.CustomObjectsApi(control_plane.impersonating(user))
    assert (
        status_of(lambda: api.list_namespaced_custom_object(GROUP, VERSION, roles, "recommendations")) == 403
    )
    bind(control_plane.api_client(), roles, "cloudios-member", user)
    eventually(
        lambda: api.list_namespaced_custom_object(GROUP, VERSION, roles, "recommendations")["items"],
        what="member can list recommendations",
    )
    for plural in ("cloudaccounts", "scanpolicies"):
        assert status_of(lambda p=plural: api.list_namespaced_custom_object(GROUP, VERSION, roles, p)) == 200
    decide = {"spec": {"decision": {"type": "Approved"}}}
    patch = partial(
        api.patch_namespaced_custom_object, GROUP, VERSION, roles, "recommendations", "seed", decide
    )
    assert status_of(patch) == 403
    create = partial(api.create_namespaced_custom_object, GROUP, VERSION, roles, "scanpolicies", POLICY)
    assert status_of(create) == 403
    assert not may(control_plane.impersonating(user), "approve", "recommendations", roles)


def test_admin_decides_and_manages_policies_but_not_accounts(control_plane: ControlPlane, roles: str) -> None:
    user = f"ada-{secrets.token_hex(3)}"
    bind(control_plane.api_client(), roles, "cloudios-admin", user)
    api = k8s.CustomObjectsApi(control_plane.impersonating(user))
    decide = {"spec": {"decision": {"type": "Dismissed", "reason": "kept for the DR drill"}}}
    patched = eventually(
        lambda: api.patch_namespaced_custom_object(GROUP, VERSION, roles, "recommendations", "seed", decide),
        what="admin can patch recommendations",
    )
    assert patched["spec"]["decision"]["type"] == "Dismissed"
    # The validating webhook also requires the custom verb `approve` to decide.
    assert may(control_plane.impersonating(user), "approve", "recommendations", roles)
    assert not may(control_plane.impersonating(user), "create", "recommendations", roles)
    assert (
        status_of(lambda: api.create_namespaced_custom_object(GROUP, VERSION, roles, "scanpolicies", POLICY))
        == 200
    )
    assert status_of(lambda: api.list_namespaced_custom_object(GROUP, VERSION, roles, "cloudaccounts")) == 200
    assert (
        status_of(
            lambda: api.create_namespaced_custom_object(GROUP, VERSION, roles, "cloudaccounts", ACCOUNT)
        )
        == 403
    )
    # Status belongs to the operator.
    status = {"status": {"state": "Verified"}}
    assert (
        status_of(
            lambda: api.patch_namespaced_custom_object_status(
                GROUP, VERSION, roles, "recommendations", "seed", status
            )
        )
        == 403
    )


def test_owner_connects_accounts_with_their_secrets(control_plane: ControlPlane, roles: str) -> None:
    user = f"olga-{secrets.token_hex(3)}"
    bind(control_plane.api_client(), roles, "cloudios-owner", user)
    impersonated = control_plane.impersonating(user)
    api = k8s.CustomObjectsApi(impersonated)
    eventually(
        lambda: api.create_namespaced_custom_object(GROUP, VERSION, roles, "cloudaccounts", ACCOUNT),
        what="owner can create cloudaccounts",
    )
    core = k8s.CoreV1Api(impersonated)
    secret = k8s.V1Secret(
        metadata=k8s.V1ObjectMeta(name="aws-base"), string_data={"aws_access_key_id": "AKIA"}
    )
    assert status_of(lambda: core.create_namespaced_secret(roles, secret)) == 200
    assert status_of(lambda: core.read_namespaced_secret("aws-base", roles)) == 200
    assert status_of(lambda: core.list_namespaced_secret(roles)) == 403
    assert may(impersonated, "approve", "recommendations", roles)
    assert (
        status_of(lambda: api.delete_namespaced_custom_object(GROUP, VERSION, roles, "cloudaccounts", "prod"))
        == 200
    )


def test_operator_role_reads_secrets_only_by_name_and_writes_token_secrets(
    control_plane: ControlPlane, namespace: str
) -> None:
    docs = render(control_plane, *KEY, "--show-only", "templates/rbac-operator.yaml", namespace=namespace)
    (cluster_role,) = [d for d in docs if d["kind"] == "ClusterRole"]
    secret_rules = [r for r in cluster_role["rules"] if "secrets" in r["resources"]]
    assert secret_rules == [
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "patch"]}
    ]
    name = f"cloudios-operator-{secrets.token_hex(3)}"
    cluster_role["metadata"]["name"] = name
    control_plane.kubectl("apply", "--server-side", "-f", "-", input=dump([cluster_role]))
    try:
        sa = f"system:serviceaccount:{namespace}:cloudios"
        k8s.RbacAuthorizationV1Api(control_plane.api_client()).create_namespaced_role_binding(
            namespace,
            k8s.V1RoleBinding(
                metadata=k8s.V1ObjectMeta(name="operator"),
                role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name),
                subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=sa)],
            ),
        )
        core = k8s.CoreV1Api(control_plane.api_client())
        core.create_namespaced_secret(namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="creds")))
        as_operator = k8s.CoreV1Api(control_plane.impersonating(sa))
        eventually(
            lambda: as_operator.read_namespaced_secret("creds", namespace), what="operator reads a Secret"
        )
        assert status_of(lambda: as_operator.list_namespaced_secret(namespace)) == 403
        # The agent token Secrets of kubernetes accounts: created once, patched on rotation; never
        # deleted by the operator (the account's owner reference does that).
        token = k8s.V1Secret(metadata=k8s.V1ObjectMeta(name="prod-agent-token"), string_data={"token": "x"})
        as_operator.create_namespaced_secret(namespace, token)
        as_operator.patch_namespaced_secret(
            "prod-agent-token", namespace, {"data": {"token": None}},
            _content_type="application/merge-patch+json",
        )  # fmt: skip
        assert status_of(lambda: as_operator.delete_namespaced_secret("creds", namespace)) == 403
    finally:
        control_plane.kubectl("delete", "clusterrole", name, "--ignore-not-found")


def test_operator_role_writes_only_its_checkpoint_configmap(
    control_plane: ControlPlane, namespace: str
) -> None:
    docs = render(control_plane, *KEY, "--show-only", "templates/rbac-operator.yaml", namespace=namespace)
    (role,) = [d for d in docs if d["kind"] == "Role"]
    control_plane.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=dump([role]))
    sa = f"system:serviceaccount:{namespace}:cloudios"
    k8s.RbacAuthorizationV1Api(control_plane.api_client()).create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name="operator"),
            role_ref=k8s.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name=role["metadata"]["name"]
            ),
            subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=sa)],
        ),
    )
    as_operator = k8s.CoreV1Api(control_plane.impersonating(sa))

    def config_map(name: str) -> k8s.V1ConfigMap:
        return k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name=name), data={"latest.json": "{}"})

    eventually(
        lambda: as_operator.create_namespaced_config_map(namespace, config_map("cloudios-audit-checkpoints")),
        what="operator creates its checkpoint ConfigMap",
    )
    found = as_operator.read_namespaced_config_map("cloudios-audit-checkpoints", namespace)
    found.data = {"latest.json": '{"index": 2}'}
    as_operator.replace_namespaced_config_map("cloudios-audit-checkpoints", namespace, found)
    k8s.CoreV1Api(control_plane.api_client()).create_namespaced_config_map(namespace, config_map("other"))
    assert status_of(lambda: as_operator.read_namespaced_config_map("other", namespace)) == 403
    assert (
        status_of(lambda: as_operator.replace_namespaced_config_map("other", namespace, config_map("other")))
        == 403
    )
    assert status_of(lambda: as_operator.list_namespaced_config_map(namespace)) == 403

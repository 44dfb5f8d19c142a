"""Proof that the test control plane is a real Kubernetes API server: CRDs, RBAC, tokens, helm."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s

from tests.support.controlplane import CommandError, ControlPlane
from tests.support.waiting import eventually

CHARTS = Path(__file__).resolve().parents[1] / "support" / "charts"
GROUP = "harness.test.cloudios.io"

pytestmark = pytest.mark.cluster


def bind_configmap_reader(api: k8s.ApiClient, namespace: str, subject: k8s.RbacV1Subject) -> None:
    rbac = k8s.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role(
        namespace,
        k8s.V1Role(
            metadata=k8s.V1ObjectMeta(name="configmap-reader"),
            rules=[
                k8s.V1PolicyRule(api_groups=[""], resources=["configmaps"], verbs=["get", "list", "watch"])
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name="configmap-reader"),
            role_ref=k8s.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="configmap-reader"
            ),
            subjects=[subject],
        ),
    )


def user_subject(name: str) -> k8s.RbacV1Subject:
    return k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=name)


# -- (1) CustomResourceDefinitions ---------------------------------------------------------


@pytest.fixture
def widget_crd(control_plane: ControlPlane) -> Iterator[str]:
    """A namespaced CRD with a structural schema, Established; deleted afterwards."""
    plural = f"widgets{secrets.token_hex(3)}"
    name = f"{plural}.{GROUP}"
    ext = k8s.ApiextensionsV1Api(control_plane.api_client())
    schema = k8s.V1JSONSchemaProps(
        type="object",
        properties={
            "spec": k8s.V1JSONSchemaProps(
                type="object",
                required=["size"],
                properties={
                    "size": k8s.V1JSONSchemaProps(type="integer", minimum=1),
                    "color": k8s.V1JSONSchemaProps(type="string", enum=["red", "blue"]),
                },
            )
        },
    )
    ext.create_custom_resource_definition(
        k8s.V1CustomResourceDefinition(
            metadata=k8s.V1ObjectMeta(name=name),
            spec=k8s.V1CustomResourceDefinitionSpec(
                group=GROUP,
                scope="Namespaced",
                names=k8s.V1CustomResourceDefinitionNames(
                    plural=plural, singular=plural[:-1], kind=f"Widget{plural[7:]}"
                ),
                versions=[
                    k8s.V1CustomResourceDefinitionVersion(
                        name="v1alpha1",
                        served=True,
                        storage=True,
                        schema=k8s.V1CustomResourceValidation(open_apiv3_schema=schema),
                    )
                ],
            ),
        )
    )

    def established() -> bool:
        crd = ext.read_custom_resource_definition(name)
        conditions = crd.status.conditions or []
        return any(c.type == "Established" and c.status == "True" for c in conditions)

    try:
        eventually(established, what=f"CRD {name} Established")
        yield plural
    finally:
        ext.delete_custom_resource_definition(name)


def test_crd_round_trip_and_schema_enforced(
    control_plane: ControlPlane, namespace: str, widget_crd: str
) -> None:
    objects = k8s.CustomObjectsApi(control_plane.api_client())
    kind = f"Widget{widget_crd[7:]}"
    body = {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": kind,
        "metadata": {"name": "w1"},
        "spec": {"size": 3, "color": "blue"},
    }
    # The new resource's handler can lag its Established condition by a moment.
    eventually(
        lambda: objects.create_namespaced_custom_object(GROUP, "v1alpha1", namespace, widget_crd, body),
        what="custom object created",
    )
    read = objects.get_namespaced_custom_object(GROUP, "v1alpha1", namespace, widget_crd, "w1")
    assert read["spec"] == {"size": 3, "color": "blue"}
    assert read["metadata"]["uid"]
    assert read["metadata"]["namespace"] == namespace

    # Only a real apiextensions server validates against the OpenAPI schema.
    bad = {**body, "metadata": {"name": "w2"}, "spec": {"size": "big", "color": "green"}}
    with pytest.raises(k8s.ApiException) as rejected:
        objects.create_namespaced_custom_object(GROUP, "v1alpha1", namespace, widget_crd, bad)
    assert rejected.value.status == 422
    assert "spec.size" in str(rejected.value.body)
    assert "spec.color" in str(rejected.value.body)


# -- (2) RBAC with impersonation -----------------------------------------------------------


def test_rbac_denies_then_allows_after_binding(control_plane: ControlPlane, namespace: str) -> None:
    user = f"alice-{secrets.token_hex(3)}"
    as_alice = k8s.CoreV1Api(control_plane.impersonating(user))

    with pytest.raises(k8s.ApiException) as denied:
        as_alice.list_namespaced_config_map(namespace)
    assert denied.value.status == 403
    assert user in str(denied.value.body)

    bind_configmap_reader(control_plane.api_client(), namespace, user_subject(user))
    listed = eventually(lambda: as_alice.list_namespaced_config_map(namespace), what="RBAC binding effective")
    assert isinstance(listed.items, list)

    # The binding is namespaced: another namespace stays forbidden.
    with pytest.raises(k8s.ApiException) as elsewhere:
        as_alice.list_namespaced_config_map("default")
    assert elsewhere.value.status == 403


def test_impersonated_groups_reach_the_server_and_rbac(control_plane: ControlPlane, namespace: str) -> None:
    user = f"bob-{secrets.token_hex(3)}"
    team = f"team-{secrets.token_hex(3)}"
    api = control_plane.impersonating(user, ["readers", team])

    review = k8s.AuthenticationV1Api(api).create_self_subject_review(
        k8s.V1SelfSubjectReview(metadata=k8s.V1ObjectMeta())
    )
    info = review.status.user_info
    assert info.username == user
    # Both groups arrive (as two header lines) and the server adds system:authenticated.
    assert {"readers", team, "system:authenticated"} <= set(info.groups)

    bind_configmap_reader(
        control_plane.api_client(),
        namespace,
        k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="Group", name=team),
    )
    eventually(
        lambda: k8s.CoreV1Api(api).list_namespaced_config_map(namespace) is not None,
        what="group binding effective",
    )


# -- (3) ServiceAccount tokens -------------------------------------------------------------


def test_token_request_and_token_review(control_plane: ControlPlane, namespace: str) -> None:
    api = control_plane.api_client()
    core = k8s.CoreV1Api(api)
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name="robot"))
    )
    token_request = core.create_namespaced_service_account_token(
        "robot",
        namespace,
        k8s.AuthenticationV1TokenRequest(spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=600)),
    )
    token = token_request.status.token
    assert token.count(".") == 2  # a signed JWT

    authn = k8s.AuthenticationV1Api(api)
    review = authn.create_token_review(k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token=token)))
    assert review.status.authenticated is True
    assert review.status.user.username == f"system:serviceaccount:{namespace}:robot"
    assert f"system:serviceaccounts:{namespace}" in review.status.user.groups

    garbage = authn.create_token_review(
        k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token=secrets.token_urlsafe(32)))
    )
    assert not garbage.status.authenticated

    # Real JWT validation: the token is bound to the API server's audience and its signature.
    other_audience = authn.create_token_review(
        k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token=token, audiences=["not-this-server"]))
    )
    assert not other_audience.status.authenticated
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    tampered = authn.create_token_review(k8s.V1TokenReview(spec=k8s.V1TokenReviewSpec(token=forged)))
    assert not tampered.status.authenticated


# -- (4) SubjectAccessReview ---------------------------------------------------------------


def test_subject_access_review(control_plane: ControlPlane, namespace: str) -> None:
    api = control_plane.api_client()
    user = f"carol-{secrets.token_hex(3)}"
    bind_configmap_reader(api, namespace, user_subject(user))
    authz = k8s.AuthorizationV1Api(api)

    def review(verb: str, resource: str) -> k8s.V1SubjectAccessReviewStatus:
        return authz.create_subject_access_review(
            k8s.V1SubjectAccessReview(
                spec=k8s.V1SubjectAccessReviewSpec(
                    user=user,
                    resource_attributes=k8s.V1ResourceAttributes(
                        namespace=namespace, verb=verb, resource=resource
                    ),
                )
            )
        ).status

    allowed = eventually(
        lambda: (status := review("list", "configmaps")).allowed and status,
        what="list configmaps allowed",
    )
    assert "configmap-reader" in (allowed.reason or "")
    denied = review("delete", "secrets")
    assert denied.allowed is False


# -- Restart (used by the e2e tests) -------------------------------------------------------


def test_restart_apiserver_keeps_state(control_plane: ControlPlane, namespace: str) -> None:
    if control_plane.existing_cluster:
        pytest.skip("an existing cluster's API server is not ours to restart")
    core = k8s.CoreV1Api(control_plane.api_client())
    core.create_namespaced_config_map(
        namespace,
        k8s.V1ConfigMap(metadata=k8s.V1ObjectMeta(name="survivor"), data={"k": "v"}),
    )
    seconds = control_plane.restart_apiserver()
    assert seconds < 60
    # Same client, same URL and certificates; the object comes back from etcd.
    assert core.read_namespaced_config_map("survivor", namespace).data == {"k": "v"}


# -- (5) helm + server-side dry-run --------------------------------------------------------


@pytest.mark.helm
def test_helm_chart_lints_and_passes_server_dry_run(control_plane: ControlPlane, namespace: str) -> None:
    chart = CHARTS / "trivial"
    lint = control_plane.helm("lint", chart, "--strict")
    assert "1 chart(s) linted, 0 chart(s) failed" in lint.stdout

    rendered = control_plane.helm(
        "template", "demo", chart, "--namespace", namespace, "--set", "greeting=bonjour"
    ).stdout
    manifest = yaml.safe_load(rendered)
    assert manifest["data"] == {"greeting": "bonjour"}

    applied = control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=rendered)
    assert "configmap/demo-settings created (server dry run)" in applied.stdout
    # A dry run persists nothing.
    missing = control_plane.kubectl("get", "configmap", "demo-settings", "-n", namespace, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr


@pytest.mark.helm
def test_server_dry_run_rejects_invalid_manifest(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    # The trivial chart with its value left unquoted: YAML makes it an integer, but
    # ConfigMap.data is map[string]string. helm lint and helm template cannot know that.
    chart = tmp_path / "invalid"
    shutil.copytree(CHARTS / "trivial", chart)
    template = chart / "templates" / "configmap.yaml"
    template.write_text(template.read_text().replace("{{ .Values.greeting | quote }}", "{{ .Values.count }}"))
    (chart / "values.yaml").write_text("count: 3\n")

    control_plane.helm("lint", chart)
    rendered = control_plane.helm("template", "broken", chart, "--namespace", namespace).stdout
    assert yaml.safe_load(rendered)["data"] == {"greeting": 3}

    with pytest.raises(CommandError) as rejected:
        control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=rendered)
    stderr = rejected.value.result.stderr
    assert "Error from server" in stderr
    assert "ConfigMap" in stderr

"""Decisions on a real API server: RBAC + `approve`, stamped identity, only spec.decision, audited once."""

# How the webhooks run: a real kopf operator in a thread with a fresh registry holding only the
# decision handlers (decisions.register), kopf's WebhookServer on 127.0.0.1 with a certificate we
# generate, and kopf's managed mode creating the Mutating/ValidatingWebhookConfigurations that point
# the API server at https://127.0.0.1:<port>/<handler id> with our CA. This is the production code
# path (same registration, same server class); only the listener address differs. The API server
# must reach 127.0.0.1, so this needs the local control plane, not a remote cluster. The
# configurations are persistent (fail closed), so the fixture deletes them when done.

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from cloudios.controller import decisions
from cloudios.security.audit import ChainKey
from cloudios.security.checkpoints import key_id
from cloudios.services.audit import AuditTrail
from cloudios.sinks.kube import Kube
from cloudios.store.audit import SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory
from tests.support.controlplane import ControlPlane, free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cloudios"
GROUP, VERSION, PLURAL = "cloudios.io", "v1alpha1", "recommendations"
ROLE_MESSAGE = "deciding needs the cloudios-admin or cloudios-owner role in namespace {}"

pytestmark = pytest.mark.cluster


def kubeconfig_login(plane: ControlPlane) -> kopf.ConnectionInfo:
    """kopf credentials from the control plane's kubeconfig (kopf's own login reads $KUBECONFIG)."""
    cfg = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(plane.kubeconfig_path), client_configuration=cfg)
    header = cfg.get_api_key_with_prefix("BearerToken") or cfg.get_api_key_with_prefix("authorization")
    scheme, _, token = (header or "").rpartition(" ")
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        scheme=scheme or None,
        token=token or None,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


def apply_crds_and_roles(plane: ControlPlane) -> None:
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", ROOT / "crds")
    plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{PLURAL}.{GROUP}")
    rendered = plane.helm(
        "template", "cloudios", CHART, "--namespace", "cloudios-system",
        "--set", "masterKey.existingSecret=cloudios-master-key",
        "--show-only", "templates/rbac-roles.yaml",
    ).stdout  # fmt: skip
    names = sorted(d["metadata"]["name"] for d in yaml.safe_load_all(rendered) if d)
    assert names == ["cloudios-admin", "cloudios-member", "cloudios-owner"]
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=rendered)


@pytest.fixture(scope="module")
def webhooks(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditTrail]:
    """The decision webhooks served by a kopf operator in a thread; yields its audit trail."""
    apply_crds_and_roles(control_plane)
    work = tmp_path_factory.mktemp("decisions")
    audit = AuditTrail(
        SqlAuditLog.sqlite(work / "data", chain_key=ChainKey.generate()),
        (CheckpointDirectory(work / "checkpoints"),),
        Ed25519PrivateKey.generate(),
    )
    admin = control_plane.api_client()
    me = k8s.AuthenticationV1Api(admin).create_self_subject_review(k8s.V1SelfSubjectReview())
    cert = decisions.generate_webhook_certificate(work / "tls", ["127.0.0.1"])

    registry = kopf.OperatorRegistry()
    kopf.on.login(registry=registry)(lambda **_: kubeconfig_login(control_plane))
    decisions.register(
        registry,
        store_factory=lambda: audit,
        operator_identities=frozenset({me.status.user_info.username}),
        authorizer=decisions.SubjectAccessReviewer(lambda: Kube(control_plane.api_client())),
    )
    settings = kopf.OperatorSettings()
    settings.admission.server = decisions.webhook_server(
        certfile=cert.cert_file,
        pkeyfile=cert.key_file,
        cafile=cert.ca_file,
        addr="127.0.0.1",
        port=free_port(),
    )
    managed = f"decisions-{secrets.token_hex(3)}.test.cloudios.io"
    settings.admission.managed = managed
    stop, ready = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    settings=settings,
                    clusterwide=True,
                    standalone=True,
                    stop_flag=stop,
                    ready_flag=ready,
                )
            )
        except BaseException as exc:  # reported by the readiness check below
            failure.append(exc)

    thread = threading.Thread(target=serve, name="kopf-decisions", daemon=True)
    thread.start()
    admission = k8s.AdmissionregistrationV1Api(admin)
    try:

        def configured() -> bool:
            assert not failure, failure
            for read in (
                admission.read_mutating_webhook_configuration,
                admission.read_validating_webhook_configuration,
            ):
                hooks = read(managed).webhooks or []
                assert [h.client_config.url for h in hooks if h.client_config.url], "no URL yet"
            return True

        eventually(configured, timeout=60, what="webhook configurations managed by kopf")
        yield audit
    finally:
        stop.set()
        thread.join(timeout=30)
        with contextlib.suppress(k8s.ApiException):
            admission.delete_mutating_webhook_configuration(managed)
        with contextlib.suppress(k8s.ApiException):
            admission.delete_validating_webhook_configuration(managed)
        audit.close()


def recommendation(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Recommendation",
        "metadata": {"name": name},
        "spec": {
            "accountRef": {"name": "prod"},
            "policyRef": {"name": "daily"},
            "findingId": f"f-{name}",
            "provider": "aws",
            "accountId": "123456789012",
            "region": "us-east-1",
            "resourceType": "ec2.instance",
            "resourceId": f"i-{name}",
            "module": "aws.ec2.idle",
            "category": "idle",
            "action": "stop",
            "title": f"Stop idle instance i-{name}",
            "confidence": "high",
            "monthlySavings": {"amount": "140.16", "currency": "USD"},
            "priceBasis": "list",
        },
    }


def bind(plane: ControlPlane, namespace: str, role: str, user: str, kind: str = "ClusterRole") -> None:
    k8s.RbacAuthorizationV1Api(plane.api_client()).create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name=f"{user}-{role}"),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind=kind, name=role),
            subjects=[k8s.RbacV1Subject(api_group="rbac.authorization.k8s.io", kind="User", name=user)],
        ),
    )


@pytest.fixture
def published(control_plane: ControlPlane, namespace: str, webhooks: AuditTrail) -> str:
    """A Recommendation published by the operator's identity (the webhooks let it create)."""
    objects = k8s.CustomObjectsApi(control_plane.api_client())
    eventually(
        lambda: objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, recommendation("r1")
        ),
        what="recommendation published",
    )
    return "r1"


def as_user(plane: ControlPlane, user: str) -> k8s.CustomObjectsApi:
    return k8s.CustomObjectsApi(plane.impersonating(user, ["cloudios-test-users"]))


def decide(api: k8s.CustomObjectsApi, namespace: str, name: str, body: dict[str, Any], **kw: Any) -> Any:
    return api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, body, **kw)


def refusal(action: Callable[[], object]) -> k8s.ApiException:
    with pytest.raises(k8s.ApiException) as refused:
        action()
    return refused.value


APPROVE = {"spec": {"decision": {"type": "Approved", "reason": "idle for 30 days"}}}


def test_a_member_cannot_decide(control_plane: ControlPlane, namespace: str, published: str) -> None:
    user = f"mia-{secrets.token_hex(3)}"
    bind(control_plane, namespace, "cloudios-member", user)
    api = as_user(control_plane, user)
    eventually(lambda: api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, published))
    denied = refusal(lambda: decide(api, namespace, published, APPROVE))
    assert denied.status == 403
    assert "admission webhook" not in str(denied.body)  # refused by RBAC before any webhook
    # The same through kubectl, as a user would type it.
    out = control_plane.kubectl(
        "patch", f"{PLURAL}.{GROUP}/{published}", "-n", namespace, "--type=merge",
        "-p", '{"spec":{"decision":{"type":"Approved"}}}', "--as", user, check=False,
    )  # fmt: skip
    assert out.returncode != 0
    assert "forbidden" in out.stderr.lower()


def test_an_admin_approves_and_the_stamp_is_the_real_identity(
    control_plane: ControlPlane, namespace: str, published: str, webhooks: AuditTrail
) -> None:
    user = f"ada-{secrets.token_hex(3)}"
    bind(control_plane, namespace, "cloudios-admin", user)
    api = as_user(control_plane, user)
    stamps = {"decidedBy": "the-cfo", "decidedAt": "2020-01-01T00:00:00Z"}  # what a forger would send
    forged = {"spec": {"decision": {**APPROVE["spec"]["decision"], **stamps}}}
    result = eventually(lambda: decide(api, namespace, published, forged), what="admin approves")
    decision = result["spec"]["decision"]
    assert decision["decidedBy"] == user
    decided_at = datetime.fromisoformat(decision["decidedAt"])
    assert abs(datetime.now(UTC) - decided_at) < timedelta(minutes=2)

    # A dry run is checked and stamped but neither stored nor audited.
    before = len(webhooks.log.entries())
    dismiss = {"spec": {"decision": {"type": "Dismissed", "reason": "kept for DR"}}}
    dry = decide(api, namespace, published, dismiss, dry_run="All")
    assert dry["spec"]["decision"]["type"] == "Dismissed"
    assert dry["spec"]["decision"]["decidedBy"] == user
    stored = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, published)
    assert stored["spec"]["decision"]["type"] == "Approved"
    assert len(webhooks.log.entries()) == before

    # Changing one's mind is a second decision, audited too; repeating it changes nothing.
    decide(api, namespace, published, dismiss)
    decide(api, namespace, published, dismiss)
    # The chain holds pseudonyms; readable() names who is behind them (until the tenant is erased).
    assert all(e.actor.startswith("pseudonym:") for e in webhooks.log.entries(namespace))
    entries = webhooks.log.readable(namespace)
    assert [(e.actor, e.action, e.target) for e in entries] == [
        (user, "recommendation.approved", f"{namespace}/{published}"),
        (user, "recommendation.dismissed", f"{namespace}/{published}"),
    ]
    assert entries[0].details["findingId"] == f"f-{published}"
    assert entries[0].details["monthlySavings"] == {"amount": "140.16", "currency": "USD"}
    assert entries[1].details["reason"] == "kept for DR"
    # Every decision was checkpointed as it was appended: the store vouches for the newest entry.
    (store,) = webhooks.stores
    assert store.latest().last_seq == webhooks.log.entries()[-1].seq  # type: ignore[union-attr]
    public = webhooks.signing_key.public_key()
    result_ = webhooks.log.verify({key_id(public): public}, store)
    assert result_.ok, result_.reason


def test_patch_rights_without_approve_are_not_enough(
    control_plane: ControlPlane, namespace: str, published: str, webhooks: AuditTrail
) -> None:
    user = f"pat-{secrets.token_hex(3)}"
    k8s.RbacAuthorizationV1Api(control_plane.api_client()).create_namespaced_role(
        namespace,
        k8s.V1Role(
            metadata=k8s.V1ObjectMeta(name="recommendation-patcher"),
            rules=[
                k8s.V1PolicyRule(api_groups=[GROUP], resources=[PLURAL], verbs=["get", "patch", "update"])
            ],
        ),
    )
    bind(control_plane, namespace, "recommendation-patcher", user, kind="Role")
    api = as_user(control_plane, user)
    eventually(lambda: api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, published))
    denied = refusal(lambda: decide(api, namespace, published, APPROVE))
    assert denied.status == 403
    assert ROLE_MESSAGE.format(namespace) in str(denied.body)
    assert webhooks.log.entries(namespace) == []


def test_an_admin_cannot_change_the_rest_of_the_spec(
    control_plane: ControlPlane, namespace: str, published: str, webhooks: AuditTrail
) -> None:
    user = f"ada-{secrets.token_hex(3)}"
    bind(control_plane, namespace, "cloudios-admin", user)
    api = as_user(control_plane, user)
    eventually(lambda: api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, published))
    cheaper = {"spec": {"monthlySavings": {"amount": "99999.00", "currency": "USD"}}}
    denied = refusal(lambda: decide(api, namespace, published, cheaper))
    assert denied.status == 403
    assert "only spec.decision may be changed by users; the operator owns the rest" in str(denied.body)
    both = {"spec": {**APPROVE["spec"], "title": "approve and rename"}}
    assert refusal(lambda: decide(api, namespace, published, both)).status == 403
    stored = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, published)
    assert stored["spec"]["monthlySavings"]["amount"] == "140.16"
    assert "decision" not in stored["spec"]
    assert webhooks.log.entries(namespace) == []

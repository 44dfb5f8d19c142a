"""The operator chart: lint, render failures, server-side dry-run, Pod Security, install, docs."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kubernetes import client as k8s

from tests.support.chart import CHART, KEY, apply_crds_for_real, apply_stand_ins, dump, render
from tests.support.controlplane import CommandError, ControlPlane

# PostgreSQL as docs/operations.md sets it up: URLs without passwords, passwords from Secrets.
DATABASE = (
    "--set", "database.url=postgresql+psycopg://cloudios_app@cloudios-db-rw:5432/cloudios",
    "--set", "database.passwordSecretRef.name=cloudios-db-app",
    "--set", "database.adminUrl=postgresql+psycopg://cloudios@cloudios-db-rw:5432/cloudios",
    "--set", "database.adminPasswordSecretRef.name=cloudios-db-owner",
)  # fmt: skip
EVERYTHING = (
    *KEY,
    "--set", "metrics.serviceMonitor.enabled=true",
    "--set", "metrics.prometheusRule.enabled=true",
    "--set", "podDisruptionBudget.enabled=true",
    "--set", "operator.peering.enabled=true",
    "--set", "replicaCount=2",
    "--set", "operator.scanExecutor=job",
    *DATABASE,
    "--set", "metrics.readerSubjects[0].kind=ServiceAccount",
    "--set", "metrics.readerSubjects[0].name=prometheus",
    "--set", "metrics.readerSubjects[0].namespace=monitoring",
)  # fmt: skip
pytestmark = [pytest.mark.cluster, pytest.mark.helm]


def render_fails(plane: ControlPlane, *args: str) -> str:
    result = plane.helm("template", "cloudios", CHART, *args, check=False)
    assert result.returncode != 0, result.stdout[:2000]
    return result.stderr


# -- helm lint and rendering ---------------------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--strict",)], ids=["lint", "lint-strict"])
def test_lint_passes(control_plane: ControlPlane, extra: tuple[str, ...]) -> None:
    result = control_plane.helm("lint", CHART, "--set", "masterKey.existingSecret=x", *extra)
    assert "0 chart(s) failed" in result.stdout
    everything = control_plane.helm("lint", CHART, *EVERYTHING, *extra)
    assert "0 chart(s) failed" in everything.stdout


def test_rendering_without_a_master_key_fails_with_the_fix(control_plane: ControlPlane) -> None:
    err = render_fails(control_plane)
    assert "masterKey.existingSecret is required" in err
    assert "openssl rand -base64 32" in err
    # helm lint renders in "lint mode", where `fail` is reported but not fatal: the message shows.
    lint = control_plane.helm("lint", CHART, check=False)
    assert "masterKey.existingSecret is required" in lint.stdout + lint.stderr
    # A trial install may generate one instead.
    docs = render(control_plane, "--set", "masterKey.devGenerate=true")
    generated = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "cloudios-master-key"]
    assert len(generated) == 1
    assert generated[0]["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--set", "colour=blue"), "additional properties 'colour' not allowed"),
        (("--set", "operator.scanExecutor=cron"), "value must be one of 'inProcess', 'job'"),
        (("--set", "replicaCount=2"), "replicaCount > 1 requires operator.peering.enabled=true"),
        (("--set", "webhook.certificate.selfSigned=false"), "needs a serving certificate"),
        (
            ("--set", "replicaCount=2", "--set", "operator.peering.enabled=true"),
            "replicaCount > 1 needs database.url (PostgreSQL)",
        ),
        (
            ("--set", "database.url=postgresql://app@db/cloudios"),
            "database.url needs database.passwordSecretRef",
        ),
        (("--set", "database.url=postgresql://app:pw@db/cloudios"), "at '/database/url': 'not' failed"),
    ],
    ids=[
        "unknown-top-level-key",
        "bad-enum",
        "replicas-without-peering",
        "webhook-without-certificate",
        "replicas-on-sqlite",
        "database-without-secrets",
        "password-in-url",
    ],
)
def test_values_are_checked(control_plane: ControlPlane, args: tuple[str, ...], message: str) -> None:
    assert message in render_fails(control_plane, *KEY, *args)


def test_default_render_shape(control_plane: ControlPlane) -> None:
    docs = render(control_plane, *KEY)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    assert len(by_kind["CustomResourceDefinition"]) == 3
    for crd in by_kind["CustomResourceDefinition"]:
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    (deployment,) = by_kind["Deployment"]
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "cloudios.controller"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics", "scheme": "HTTPS"}
    # No plain-HTTP port: the webhooks, /metrics and the data-rights API all speak TLS 1.3.
    assert {p["name"] for p in container["ports"]} == {"metrics", "webhook", "ingest"}
    assert {"name": "CLOUDIOS_INGEST_PORT", "value": "8443"} in container["env"]
    (policy,) = by_kind["NetworkPolicy"]
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert [[p["port"] for p in rule["ports"]] for rule in policy["spec"]["ingress"]] == [
        ["webhook"],
        ["metrics"],
        ["ingest"],
    ]
    readers = [r for r in by_kind["ClusterRole"] if r["metadata"]["name"].endswith("-metrics-reader")]
    assert [r["rules"] for r in readers] == [[{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]]
    env = {e["name"]: e for e in container["env"]}
    # The master key reaches the operator as a file from its Secret, never as a variable.
    assert env["CLOUDIOS_MASTER_KEY_FILE"]["value"] == "/etc/cloudios/master-key/keyset"
    assert "CLOUDIOS_MASTER_KEY" not in env
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["master-key"]["secret"] == {
        "secretName": "cloudios-master-key",
        "items": [{"key": "master-key", "path": "keyset"}],
        "defaultMode": 0o440,
    }
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/etc/cloudios/master-key"]["readOnly"] is True
    assert "/tmp" in mounts
    # The webhook CA in both configurations is the CA that signed the Secret's certificate.
    (tls,) = [d for d in docs if d["kind"] == "Secret" and d["type"] == "kubernetes.io/tls"]
    # (path, resource, sideEffects, failurePolicy, matchCondition) of each webhook. The decision
    # webhook writes the audit log, but never for dry runs; the schedule check fails open (the
    # operator reports it too).
    publishing = "not-the-operator-publishing"
    expected = {
        "MutatingWebhookConfiguration": [
            ("/mutate-recommendation-decision", "recommendations", "None", "Fail", publishing),
        ],
        "ValidatingWebhookConfiguration": [
            ("/validate-recommendation-decision", "recommendations", "NoneOnDryRun", "Fail", publishing),
            ("/validate-recommendation-status", "recommendations/status", "None", "Fail", "not-the-operator"),
            ("/validate-scanpolicy-schedule", "scanpolicies", "None", "Ignore", "not-the-operator"),
        ],
    }
    for kind, hooks in expected.items():
        (config,) = by_kind[kind]
        found = [
            (
                h["clientConfig"]["service"]["path"],
                *h["rules"][0]["resources"],
                h["sideEffects"],
                h["failurePolicy"],
                h["matchConditions"][0]["name"],
            )
            for h in config["webhooks"]
        ]
        assert found == hooks
        for hook in config["webhooks"]:
            assert hook["clientConfig"]["caBundle"] == tls["data"]["ca.crt"]
    # Only the operator writes a Recommendation's status (the status subresource has no CREATE).
    (validating,) = by_kind["ValidatingWebhookConfiguration"]
    hooks = {h["name"]: h for h in validating["webhooks"]}
    assert hooks["recommendation-status.validate.cloudios.io"]["rules"][0]["operations"] == ["UPDATE"]
    assert {"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget"}.isdisjoint(by_kind)
    without_crds = render(control_plane, *KEY, "--set", "crds.install=false", "--set", "crds.keep=false")
    assert not [d for d in without_crds if d["kind"] == "CustomResourceDefinition"]


def test_audit_keys_are_generated_or_referenced_and_mounted_for_the_group_only(
    control_plane: ControlPlane,
) -> None:
    docs = render(control_plane, *KEY)
    (secret,) = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "cloudios-audit-keys"]
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    data = {k: base64.b64decode(v) for k, v in secret["data"].items()}
    assert len(base64.b64decode(data["chain-key"].strip(), validate=True)) == 32
    assert isinstance(serialization.load_pem_private_key(data["signing-key"], None), Ed25519PrivateKey)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["CLOUDIOS_AUDIT_CHAIN_KEY_FILE"] == "/etc/cloudios/audit/chain-key"
    assert env["CLOUDIOS_AUDIT_SIGNING_KEY_FILE"] == "/etc/cloudios/audit/signing-key"
    assert env["CLOUDIOS_AUDIT_CHECKPOINT_INTERVAL_SECONDS"] == "300"
    (volume,) = [v for v in pod["volumes"] if v["name"] == "audit-keys"]
    assert volume["secret"]["secretName"] == "cloudios-audit-keys"
    assert volume["secret"]["defaultMode"] == 0o440
    # Bring your own: no generated Secret, the volume names yours.
    own = render(control_plane, *KEY, "--set", "audit.existingSecret=my-audit-keys")
    assert not [d for d in own if d["kind"] == "Secret" and "audit" in d["metadata"]["name"]]
    (deployment,) = [d for d in own if d["kind"] == "Deployment"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert [v["secret"]["secretName"] for v in volumes if v["name"] == "audit-keys"] == ["my-audit-keys"]
    (role,) = [d for d in docs if d["kind"] == "Role"]
    assert {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cloudios-audit-checkpoints"],
            "verbs": ["get", "update"]} in role["rules"]  # fmt: skip


def test_optional_objects_render(control_plane: ControlPlane) -> None:
    docs = {d["kind"]: d for d in render(control_plane, *EVERYTHING)}
    rules = docs["PrometheusRule"]["spec"]["groups"][0]["rules"]
    assert rules[0]["alert"] == "CloudiosScanStale"
    assert rules[0]["expr"] == "time() - cloudios_scan_last_success_timestamp_seconds > 2 * 86400"
    (endpoint,) = docs["ServiceMonitor"]["spec"]["endpoints"]
    assert (endpoint["port"], endpoint["scheme"]) == ("metrics", "https")
    assert endpoint["bearerTokenFile"] == "/var/run/secrets/kubernetes.io/serviceaccount/token"
    (reader,) = [
        d
        for d in render(control_plane, *EVERYTHING)
        if d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"].endswith("-metrics-reader")
    ]
    assert reader["subjects"] == [{"kind": "ServiceAccount", "name": "prometheus", "namespace": "monitoring"}]
    assert docs["Deployment"]["spec"]["replicas"] == 2
    assert docs["Deployment"]["spec"]["strategy"]["type"] == "RollingUpdate"
    assert docs["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    assert "ClusterKopfPeering" in docs
    jobs = [r for r in docs["Role"]["rules"] if r["apiGroups"] == ["batch"]]
    assert jobs == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch", "delete"]}
    ]


# -- against the API server ---------------------------------------------------------------------


def test_rendered_chart_passes_server_side_dry_run(control_plane: ControlPlane, namespace: str) -> None:
    docs = render(control_plane, *KEY, namespace=namespace)
    apply_crds_for_real(control_plane, docs)
    result = control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump(docs))
    assert "deployment.apps/cloudios created (server dry run)" in result.stdout
    assert "validatingwebhookconfiguration.admissionregistration.k8s.io/cloudios created" in result.stdout


def test_optional_objects_pass_server_side_dry_run(control_plane: ControlPlane, namespace: str) -> None:
    apply_stand_ins(control_plane)
    docs = render(
        control_plane,
        *EVERYTHING,
        "--set", "webhook.certificate.certManager.enabled=true",
        "--set", "webhook.certificate.certManager.issuerRef.name=ca-issuer",
        namespace=namespace,
    )  # fmt: skip
    apply_crds_for_real(control_plane, docs)  # ours and kopf's peering CRDs
    result = control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump(docs))
    for created in (
        "servicemonitor",
        "prometheusrule",
        "certificate",
        "poddisruptionbudget",
        "clusterkopfpeering",
    ):
        assert re.search(
            rf"^{created}\.\S+/cloudios\S* created \(server dry run\)", result.stdout, re.MULTILINE
        ), result.stdout
    hooks = [d for d in docs if d["kind"] == "MutatingWebhookConfiguration"]
    assert (
        hooks[0]["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        == f"{namespace}/cloudios-webhook-tls"
    )
    assert "caBundle" not in hooks[0]["webhooks"][0]["clientConfig"]


def test_operator_pod_satisfies_pod_security_restricted(control_plane: ControlPlane, namespace: str) -> None:
    core = k8s.CoreV1Api(control_plane.api_client())
    labels = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "warn")}
    core.patch_namespace(namespace, {"metadata": {"labels": labels}})
    docs = render(control_plane, *KEY, namespace=namespace)
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    result = control_plane.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump([deployment])
    )
    assert "would violate PodSecurity" not in result.stderr, result.stderr
    # Enforcement applies to Pods: the Deployment's pod template must be admitted...
    template = deployment["spec"]["template"]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**template["metadata"], "name": "op"},
        "spec": template["spec"],
    }
    control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump([pod]))
    # ...and the same pod with privilege escalation allowed must not be (the check is live).
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    with pytest.raises(CommandError, match="violates PodSecurity"):
        control_plane.kubectl("apply", "--dry-run=server", "-n", namespace, "-f", "-", input=dump([pod]))


def test_the_store_is_kept_on_a_claim_or_in_postgresql_with_passwords_from_secrets(
    control_plane: ControlPlane,
) -> None:
    def operator(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        return {e["name"]: e for e in container["env"]}, volumes, deployment

    docs = render(control_plane, *KEY, "--set", "persistence.enabled=true")
    env, volumes, _ = operator(docs)
    (claim,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    assert volumes["data"] == {
        "name": "data",
        "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
    }
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert "CLOUDIOS_DATABASE_URL" not in env

    docs = render(control_plane, *KEY, *DATABASE, "--set", "persistence.enabled=true")
    env, volumes, _ = operator(docs)
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]  # PostgreSQL holds the state
    assert volumes["data"]["emptyDir"] == {}
    assert env["CLOUDIOS_DATABASE_URL"]["value"] == DATABASE[1].split("=", 1)[1]
    assert env["CLOUDIOS_DATABASE_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "cloudios-db-app", "key": "password"}
    }
    assert env["CLOUDIOS_DATABASE_ADMIN_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "cloudios-db-owner", "key": "password"}
    }
    assert env["CLOUDIOS_JOB_DATABASE_PASSWORD_SECRET"]["value"] == "cloudios-db-app/password"

"""The data-rights API against the real API server: `cloudios ingest` serving export and erase.

TokenReview and SubjectAccessReview are the real API server's, with the chart's cloudios-owner,
-admin and -member roles bound to real ServiceAccount tokens.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from kubernetes import client as k8s

from cloudios.cli import kubectl
from cloudios.security import tls
from cloudios.security.audit import load_chain_key, verify_chain
from cloudios.store import SqlRepository
from cloudios.store.audit import SqlAuditLog
from cloudios.store.audit_identities import is_pseudonym
from tests.e2e.harness import audit_env, eventually
from tests.integration.test_chart_rbac import recommendation
from tests.support.chart import GROUP, KEY, VERSION, apply_crds_for_real, dump, render
from tests.support.controlplane import ControlPlane, free_port
from tests.unit.test_store import T0, f, scan

pytestmark = [pytest.mark.cluster, pytest.mark.helm]


@dataclass
class Ingest:
    url: str
    ca: Path
    data: Path
    keys: Path
    namespace: str
    tokens: dict[str, str]
    log: Path

    def call(self, method: str, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(verify=tls.client_context(self.ca), timeout=30) as client:
            return client.request(method, f"{self.url}{path}", headers=headers)


def sa_token(api: k8s.ApiClient, namespace: str, name: str, role: str) -> str:
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=name))
    )
    rbac.create_namespaced_role_binding(
        namespace,
        k8s.V1RoleBinding(
            metadata=k8s.V1ObjectMeta(name=name),
            role_ref=k8s.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=role),
            subjects=[k8s.RbacV1Subject(kind="ServiceAccount", name=name, namespace=namespace)],
        ),
    )
    request = k8s.AuthenticationV1TokenRequest(
        spec=k8s.V1TokenRequestSpec(audiences=[], expiration_seconds=900)
    )
    return str(core.create_namespaced_service_account_token(name, namespace, request).status.token)


@pytest.fixture
def ingest(control_plane: ControlPlane, namespace: str, tmp_path: Path) -> Iterator[Ingest]:
    docs = render(control_plane, *KEY, "--show-only", "templates/rbac-roles.yaml")
    apply_crds_for_real(control_plane, render(control_plane, *KEY, "--show-only", "templates/crds.yaml"))
    control_plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=dump(docs))
    api = control_plane.api_client()
    tokens = {
        role: sa_token(api, namespace, role, f"cloudios-{role}") for role in ("owner", "admin", "member")
    }
    objects = k8s.CustomObjectsApi(api)
    eventually(
        lambda: objects.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "recommendations", recommendation("r1")
        ),
        what="a Recommendation to erase",
    )
    data, keys = tmp_path / "data", tmp_path / "keys"
    repo = SqlRepository.sqlite(data)
    repo.upsert_account(tenant=namespace, name="prod", provider="aws", account_id="111111111111", now=T0)
    repo.record_scan(scan("s1", T0, tenant=namespace), [f("i-1")])
    repo.record_scan(scan("s1", T0, tenant="bystander"), [f("i-1")])
    repo.close()
    certs = tls.generate_certificate(tmp_path / "tls", ["127.0.0.1", "localhost"])
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "PYTHONPATH")},
        **audit_env(keys, namespace),
        "KUBECONFIG": str(control_plane.kubeconfig_path),
        "CLOUDIOS_DATA_DIR": str(data),
        "CLOUDIOS_AUDIT_CHECKPOINT_NAMESPACE": "",
        "CLOUDIOS_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "CLOUDIOS_INGEST_PORT": str(port),
        "CLOUDIOS_INGEST_ADDR": "127.0.0.1",
        "CLOUDIOS_INGEST_CERT_FILE": str(certs.cert_file),
        "CLOUDIOS_INGEST_KEY_FILE": str(certs.key_file),
    }
    log = tmp_path / "ingest.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudios.cli.main", "ingest"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ingest = Ingest(f"https://127.0.0.1:{port}", certs.ca_file, data, keys, namespace, tokens, log)
        eventually(lambda: healthy(ingest, process), what=f"cloudios ingest ({log})")
        yield ingest
    finally:
        process.terminate()
        process.wait(timeout=20)


def healthy(ingest: Ingest, process: subprocess.Popen[bytes]) -> bool:
    assert process.poll() is None, ingest.log.read_text()
    try:
        return ingest.call("GET", "/healthz").status_code == httpx.codes.OK
    except httpx.TransportError:
        return False


def plugin(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = kubectl.main(list(argv))
    return code, out.getvalue() + err.getvalue()


def check_refusals(ingest: Ingest, export: str, erase: str) -> None:
    tokens = ingest.tokens
    # No token 401, a token the API server does not know 401, admin and member 403: JSON bodies.
    assert ingest.call("GET", export).status_code == 401
    assert ingest.call("GET", export, "not-a-token").status_code == 401
    for role in ("admin", "member"):
        for method, path in (("GET", export), ("DELETE", erase)):
            answer = ingest.call(method, path, tokens[role])
            assert answer.status_code == 403, (role, method)
            assert "cloudios-owner" in answer.json()["error"]
    # Bad input: 4xx with a clear body.
    assert ingest.call("GET", "/api/v1/namespaces/Not_A_Name/export", tokens["owner"]).status_code == 400
    assert ingest.call("POST", export, tokens["owner"]).status_code == 405
    assert ingest.call("GET", "/api/v1/whatever", tokens["owner"]).status_code == 404


def test_only_the_owner_may_export_and_erase_and_every_call_is_audited(
    ingest: Ingest, control_plane: ControlPlane
) -> None:
    ns, tokens = ingest.namespace, ingest.tokens
    export, erase = f"/api/v1/namespaces/{ns}/export", f"/api/v1/namespaces/{ns}/data"
    check_refusals(ingest, export, erase)
    answer = ingest.call("GET", export, tokens["owner"])
    assert answer.status_code == 200
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
    exported = answer.json()
    assert exported["schema"] == "cloudios.io/export/v1"
    assert [x["resourceId"] for x in exported["findings"]] == ["i-1"]
    owner = f"system:serviceaccount:{ns}:owner"
    actions = [(e["action"], e["actor"], e["details"]["source"]) for e in exported["audit"]]
    assert ("data.export_denied", f"system:serviceaccount:{ns}:admin", "127.0.0.1") in actions
    assert ("data.erase_denied", f"system:serviceaccount:{ns}:member", "127.0.0.1") in actions
    assert actions[-1] == ("data.exported", owner, "127.0.0.1")

    # The kubectl plugin: admin refused, owner exports and erases (Recommendation objects too).
    common = ("-n", ns, "--kubeconfig", str(control_plane.kubeconfig_path), "--url", ingest.url,
              "--certificate-authority", str(ingest.ca))  # fmt: skip
    code, out = plugin("erase", *common, "--token", tokens["admin"], "--yes")
    assert code == 1
    assert "403" in out
    code, out = plugin("export", *common, "--token", tokens["owner"])
    assert code == 0, out
    assert json.loads(out)["findings"]
    code, out = plugin("erase", *common, "--token", tokens["owner"])
    assert code == 2  # no --yes
    code, out = plugin("erase", *common, "--token", tokens["owner"], "--yes")
    assert code == 0, out
    assert json.loads(out)["recommendationObjects"] == 1
    items = k8s.CustomObjectsApi(control_plane.api_client()).list_namespaced_custom_object(
        GROUP, VERSION, ns, "recommendations"
    )
    assert items["items"] == []

    after = ingest.call("GET", export, tokens["owner"]).json()
    assert after["findings"] == []
    assert after["accounts"] == []
    erased_at = [e["action"] for e in after["audit"]].index("data.erased")
    assert all(is_pseudonym(e["actor"]) for e in after["audit"][:erased_at])
    assert owner not in json.dumps(after["audit"][:erased_at])
    repo = SqlRepository.sqlite(ingest.data)
    try:
        assert [x.finding.resource_id for x in repo.findings("bystander")] == ["i-1"]
    finally:
        repo.close()
    # The chain still verifies after pseudonymisation.
    log = SqlAuditLog.sqlite(ingest.data, chain_key=load_chain_key(ingest.keys / "audit-chain.key"))
    try:
        result, _ = verify_chain(log.entries(), load_chain_key(ingest.keys / "audit-chain.key"))
        assert result.ok, result.reason
    finally:
        log.close()
    # The access log names user and address, never a token.
    text = ingest.log.read_text()
    assert f"DELETE /api/v1/namespaces/{ns}/data 200 user={owner} source=127.0.0.1" in text
    assert all(token not in text for token in tokens.values())


def test_tls_12_is_refused(ingest: Ingest) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ingest.ca)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    port = int(ingest.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, pytest.raises(ssl.SSLError):
        context.wrap_socket(sock, server_hostname="127.0.0.1")
    assert datetime.now(UTC) > T0

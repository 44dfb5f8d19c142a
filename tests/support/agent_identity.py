"""The agent's identity on a test API server: a ServiceAccount bound to exactly the rules of rbac.json.

Shared by tests/agent and bench/agent.py; the kubeconfig is JSON (what the agent reads) and can
point at the metrics test front proxy instead of the API server.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client as k8s

RBAC_FILE = Path(__file__).parents[2] / "agent" / "cloudios_agent" / "rbac.json"


def agent_rules() -> list[dict[str, object]]:
    rules: list[dict[str, object]] = json.loads(RBAC_FILE.read_text())["rules"]
    return rules


@dataclass(frozen=True)
class AgentIdentity:
    namespace: str
    service_account: str
    cluster_role: str
    token: str

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"


def create_agent_identity(api: k8s.ApiClient, *, token_seconds: int = 3600) -> AgentIdentity:
    """Namespace, ServiceAccount, ClusterRole (rbac.json's rules, nothing more), binding and a token."""
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    suffix = secrets.token_hex(3)
    namespace, name, role = f"cloudios-agent-{suffix}", "cloudios-agent", f"cloudios-agent-test-{suffix}"
    core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=namespace)))
    core.create_namespaced_service_account(
        namespace, k8s.V1ServiceAccount(metadata=k8s.V1ObjectMeta(name=name))
    )
    rbac.create_cluster_role({"metadata": {"name": role}, "rules": agent_rules()})
    rbac.create_cluster_role_binding(
        {
            "metadata": {"name": role},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
        }
    )
    # TokenRequest: served by the API server itself, no controller-manager needed.
    token = core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": token_seconds}}
    ).status.token
    return AgentIdentity(namespace, name, role, token)


def delete_agent_identity(api: k8s.ApiClient, identity: AgentIdentity) -> None:
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    with contextlib.suppress(k8s.ApiException):
        rbac.delete_cluster_role_binding(identity.cluster_role)
    with contextlib.suppress(k8s.ApiException):
        rbac.delete_cluster_role(identity.cluster_role)
    with contextlib.suppress(k8s.ApiException):
        core.delete_namespace(identity.namespace)


def write_kubeconfig(path: Path, server: str, ca_file: Path, token: str) -> Path:
    """A JSON kubeconfig (0600) for ``server`` trusting ``ca_file``, authenticating with ``token``."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "agent", "user": {"token": token}}],
        "contexts": [{"name": "agent", "context": {"cluster": "c", "user": "agent"}}],
        "current-context": "agent",
    }
    path.touch(mode=0o600)
    path.write_text(json.dumps(doc))
    return path

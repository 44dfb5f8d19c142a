"""Agent fixtures: a ServiceAccount bound to exactly the agent's ClusterRole, the test metrics front proxy.

The agent reaches the real API server as that ServiceAccount, through the TEST FRONT PROXY of
tests/support/metrics_proxy.py (which serves metrics.k8s.io and passes everything else through).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kubernetes import client as k8s

from cloudios_agent import kubeconfig
from cloudios_agent.kube import KubeClient
from tests.support.controlplane import ControlPlane
from tests.support.metrics_proxy import MetricsProxy, PodUsage

RBAC_FILE = Path(__file__).parents[2] / "agent" / "cloudios_agent" / "rbac.json"


@dataclass
class ScriptedMetrics:
    """What the proxy serves as metrics.k8s.io PodMetrics; tests replace ``pods``."""

    pods: list[PodUsage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self) -> list[PodUsage]:
        with self.lock:
            return list(self.pods)


@dataclass(frozen=True)
class AgentAccess:
    """The agent's identity: a ServiceAccount token and a JSON kubeconfig that points at the proxy."""

    token: str
    kubeconfig: Path
    proxy: MetricsProxy
    metrics: ScriptedMetrics
    service_account: str


def agent_rules() -> list[dict[str, object]]:
    rules: list[dict[str, object]] = json.loads(RBAC_FILE.read_text())["rules"]
    return rules


def write_kubeconfig(path: Path, server: str, ca_file: Path, token: str) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": str(ca_file)}}],
        "users": [{"name": "agent", "user": {"token": token}}],
        "contexts": [{"name": "agent", "context": {"cluster": "c", "user": "agent"}}],
        "current-context": "agent",
    }
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def agent_access(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentAccess]:
    """ServiceAccount + ClusterRole (the rules of rbac.json, nothing more) + binding + a 1-hour token."""
    api = control_plane.api_client()
    core, rbac = k8s.CoreV1Api(api), k8s.RbacAuthorizationV1Api(api)
    suffix = secrets.token_hex(3)
    namespace, name = f"cloudios-agent-{suffix}", "cloudios-agent"
    role = f"cloudios-agent-test-{suffix}"
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
    token = core.create_namespaced_service_account_token(
        name, namespace, {"spec": {"expirationSeconds": 3600}}
    ).status.token
    work = tmp_path_factory.mktemp("agent")
    metrics = ScriptedMetrics()
    assert control_plane.ca_path is not None
    proxy = MetricsProxy(control_plane.server_url, control_plane.ca_path, metrics, work / "proxy").start()
    config = write_kubeconfig(work / "kubeconfig.json", proxy.url, proxy.ca_file, token)
    try:
        yield AgentAccess(token, config, proxy, metrics, f"system:serviceaccount:{namespace}:{name}")
    finally:
        proxy.stop()
        with contextlib.suppress(k8s.ApiException):
            rbac.delete_cluster_role_binding(role)
        with contextlib.suppress(k8s.ApiException):
            rbac.delete_cluster_role(role)
        with contextlib.suppress(k8s.ApiException):
            core.delete_namespace(namespace)


@pytest.fixture
def agent_client(agent_access: AgentAccess) -> Iterator[KubeClient]:
    client = KubeClient(kubeconfig.from_kubeconfig(agent_access.kubeconfig))
    try:
        yield client
    finally:
        client.close()

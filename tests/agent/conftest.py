"""Agent fixtures: a ServiceAccount bound to exactly the agent's ClusterRole, the test metrics front proxy.

The agent reaches the real API server as that ServiceAccount, through the TEST FRONT PROXY of
tests/support/metrics_proxy.py (which serves metrics.k8s.io and passes everything else through).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cloudios_agent import kubeconfig
from cloudios_agent.kube import KubeClient
from tests.support.agent_identity import create_agent_identity, delete_agent_identity, write_kubeconfig
from tests.support.controlplane import ControlPlane
from tests.support.metrics_proxy import MetricsProxy, PodUsage


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


@pytest.fixture(scope="session")
def agent_access(
    control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentAccess]:
    """ServiceAccount + ClusterRole (the rules of rbac.json, nothing more) + binding + a 1-hour token."""
    api = control_plane.api_client()
    identity = create_agent_identity(api)
    work = tmp_path_factory.mktemp("agent")
    metrics = ScriptedMetrics()
    assert control_plane.ca_path is not None
    proxy = MetricsProxy(control_plane.server_url, control_plane.ca_path, metrics, work / "proxy").start()
    config = write_kubeconfig(work / "kubeconfig.json", proxy.url, proxy.ca_file, identity.token)
    try:
        yield AgentAccess(identity.token, config, proxy, metrics, identity.user)
    finally:
        proxy.stop()
        delete_agent_identity(api, identity)


@pytest.fixture
def agent_client(agent_access: AgentAccess) -> Iterator[KubeClient]:
    client = KubeClient(kubeconfig.from_kubeconfig(agent_access.kubeconfig))
    try:
        yield client
    finally:
        client.close()

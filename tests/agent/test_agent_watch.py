"""The agent's list+watch against the real API server: pages, resume without relisting, relist on 410 Gone.

410 is provoked for real: etcd is compacted and the API server restarted, so the old continue
token comes back as an HTTP 410 and a watch from the old resourceVersion as an in-stream ERROR
event with code 410. The HTTP-410 answer to a watch request itself, which this API server does not
produce on demand, is injected by the test front proxy.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from kubernetes import client as k8s

from cloudios_agent import kubeconfig, project
from cloudios_agent.kube import GoneError, KubeClient, Reflector, Resource
from tests.agent.conftest import AgentAccess
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.cluster]


def _pod(name: str) -> dict[str, object]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "registry.invalid/app"}]},
    }


def _eventually(check: object, timeout: float = 30.0, what: str = "") -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"not reached within {timeout:.0f}s: {what}")


def _names(reflector: Reflector[project.PodRecord]) -> set[str]:
    return {p.ident.name for p in reflector.snapshot()}


@pytest.fixture
def pods(control_plane: ControlPlane, namespace: str) -> k8s.CoreV1Api:
    core = k8s.CoreV1Api(control_plane.api_client())
    for i in range(5):
        core.create_namespaced_pod(namespace, _pod(f"p{i}"))
    return core


@pytest.fixture
def running(
    agent_client: KubeClient, namespace: str
) -> Iterator[tuple[Reflector[project.PodRecord], threading.Event]]:
    reflector = Reflector(
        agent_client,
        Resource("pods", f"/api/v1/namespaces/{namespace}/pods"),
        project.pod,
        page_limit=2,
        watch_seconds=1,
    )
    stop = threading.Event()
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    assert reflector.synced.wait(30)
    yield reflector, stop
    stop.set()
    thread.join(10)


def test_lists_in_pages_then_resumes_watches_without_relisting(
    pods: k8s.CoreV1Api, namespace: str, running: tuple[Reflector[project.PodRecord], threading.Event]
) -> None:
    reflector, _ = running
    assert _names(reflector) == {f"p{i}" for i in range(5)}
    first_watches = reflector.watches
    pods.create_namespaced_pod(namespace, _pod("p5"))
    pods.delete_namespaced_pod("p0", namespace, grace_period_seconds=0)
    _eventually(lambda: _names(reflector) == {f"p{i}" for i in range(1, 6)}, what="p5 added and p0 deleted")
    # Watches end every 1-2 s (timeoutSeconds) and resume from the last resourceVersion seen.
    _eventually(lambda: reflector.watches >= first_watches + 3, what="three more watches")
    pods.create_namespaced_pod(namespace, _pod("p6"))
    _eventually(lambda: "p6" in _names(reflector), what="p6 after resumed watches")
    assert reflector.lists == 1
    assert reflector.gone == 0
    assert reflector.errors == 0


def test_http_410_on_a_watch_request_relists(
    pods: k8s.CoreV1Api,
    namespace: str,
    agent_access: AgentAccess,
    running: tuple[Reflector[project.PodRecord], threading.Event],
) -> None:
    reflector, _ = running
    agent_access.proxy.fail_next(f"/api/v1/namespaces/{namespace}/pods?watch=true", 410)
    _eventually(lambda: reflector.gone == 1, what="the injected 410")
    _eventually(lambda: reflector.lists == 2, what="a relist")
    pods.create_namespaced_pod(namespace, _pod("p7"))
    _eventually(lambda: "p7" in _names(reflector), what="p7 after the relist")


def _compact_etcd(control_plane: ControlPlane) -> None:
    assert control_plane._etcd is not None
    etcd = next(a for a in control_plane._etcd.argv if a.startswith("--listen-client-urls=")).split("=", 1)[1]
    revision = httpx.post(f"{etcd}/v3/kv/range", json={"key": "L3JlZ2lzdHJ5"}, timeout=10).json()["header"][
        "revision"
    ]
    httpx.post(
        f"{etcd}/v3/kv/compaction", json={"revision": revision, "physical": True}, timeout=30
    ).raise_for_status()


def test_real_410_after_compaction_and_restart_http_status_and_in_stream(
    control_plane: ControlPlane, pods: k8s.CoreV1Api, namespace: str, agent_client: KubeClient
) -> None:
    path = f"/api/v1/namespaces/{namespace}/pods"
    reflector = Reflector(agent_client, Resource("pods", path), project.pod, page_limit=2, watch_seconds=1)
    reflector.relist()
    stale = reflector.resource_version
    first_page = agent_client.get_json(path, {"limit": "2"})
    # Writes after the reflector's version, then compaction and a restart: its version and the
    # continue token now predate everything the API server (cache and etcd) still holds.
    pods.create_namespaced_pod(namespace, _pod("late"))
    _compact_etcd(control_plane)
    control_plane.restart_apiserver()

    with pytest.raises(GoneError) as http_status:
        agent_client.get_json(path, {"limit": "2", "continue": first_page["metadata"]["continue"]})
    assert http_status.value.status == 410

    with pytest.raises(GoneError):
        for _ in agent_client.watch(path, stale, seconds=2):
            pass  # an ERROR event with code 410 raises inside the stream

    stop = threading.Event()
    thread = threading.Thread(target=reflector.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _eventually(
            lambda: reflector.gone >= 1 and "late" in _names(reflector), what="relist after in-stream 410"
        )
        assert reflector.lists == 2
    finally:
        stop.set()
        thread.join(10)


def test_a_client_certificate_kubeconfig_reaches_the_api_server(
    control_plane: ControlPlane, tmp_path: Path
) -> None:
    """The kubeconfig path with inline certificate data, against the real API server (no proxy)."""
    assert control_plane.ca_path is not None
    pki = control_plane.workdir / "pki"

    def data(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode()

    doc = {
        "clusters": [{"name": "c", "cluster": {"server": control_plane.server_url,
                                               "certificate-authority-data": data(control_plane.ca_path)}}],
        "users": [{"name": "u", "user": {"client-certificate-data": data(pki / "admin.crt"),
                                         "client-key-data": data(pki / "admin.key")}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }  # fmt: skip
    (tmp_path / "kubeconfig.json").write_text(json.dumps(doc))
    client = KubeClient(kubeconfig.from_kubeconfig(tmp_path / "kubeconfig.json"))
    try:
        names, version = client.list("/api/v1/namespaces", project.namespace, limit=1)
        assert "default" in names
        assert version
    finally:
        client.close()

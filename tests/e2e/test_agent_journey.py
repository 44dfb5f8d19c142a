"""The Kubernetes journey end to end, as a user runs it (issue 16, "Done when").

`kubectl apply` a `provider: kubernetes` CloudAccount -> the operator mints the token Secret -> the
real `cloudios-agent` process starts with that token (read from the Secret), as a ServiceAccount
bound to exactly agent/cloudios_agent/rbac.json, through the metrics.k8s.io TEST FRONT PROXY, with
the operator's own ingest listener (`CLOUDIOS_INGEST_PORT`, the chart's default) as its ingest URL
and that listener's CA -> reports over TLS 1.3 -> the account turns Ready (AgentReporting) -> a
ScanPolicy with the k8s modules publishes a priced Kubernetes Recommendation -> approved through
the decision webhook, which records the approver.

Rightsizing needs days of usage. The agent gets them the production way: its history source, a
real Prometheus holding 9 days of cAdvisor series of the test's own pods (promtool-backfilled),
which the agent backfills on its first start and sends through ingest itself. Nothing is seeded
around the agent. The nodes are objects with an AWS providerID, instance type and region labels,
so they are priced from the bundled AWS book; pods are objects whose status is patched to Running
(no kubelet).
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubernetes import client as k8s

from cloudios.api.names import CLOUD_ACCOUNT, PLURALS
from cloudios.security import tls
from tests.e2e.conftest import remove_webhooks
from tests.e2e.harness import GROUP, VERSION, Cluster, OperatorFactory, eventually, operator_env
from tests.e2e.test_metrics_endpoint import grant_metrics, scrape, service_account_token
from tests.support.agent_identity import create_agent_identity, delete_agent_identity, write_kubeconfig
from tests.support.controlplane import ControlPlane, free_port
from tests.support.metrics_proxy import ContainerUsage, MetricsProxy, PodUsage
from tests.support.prometheus import DAY, HOUR, MIB, Container, build_blocks, serve

pytestmark = [pytest.mark.cluster, pytest.mark.prometheus]
ACCOUNTS = PLURALS[CLOUD_ACCOUNT]
POLICIES, RECOMMENDATIONS = "scanpolicies", "recommendations"
PODS = ("web-7d9f8b6c5d-xk2lp", "web-7d9f8b6c5d-q8zvw")
HISTORY_DAYS = 9
APPROVER = "journey-approver"


@pytest.fixture
def operators(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    e2e_setup: dict[str, Path | str],
    tmp_path: Path,
) -> Iterator[OperatorFactory]:
    """Operators as in tests/e2e/conftest.py, without the AWS emulator (no AWS account here)."""
    certs = {k: Path(v) for k, v in e2e_setup.items() if k != "managed"}
    env = operator_env(control_plane, "http://127.0.0.1:9/no-aws-here", certs, str(e2e_setup["managed"]))
    factory = OperatorFactory(control_plane, tmp_path, env)
    try:
        with factory.guarding():
            yield factory
    finally:
        factory.stop_all()
        remove_webhooks(control_plane, str(e2e_setup["managed"]))
        if getattr(getattr(request.node, "report_call", None), "failed", False):
            print(factory.report())


def create_cluster_objects(api: k8s.ApiClient, namespace: str, suffix: str) -> list[str]:
    """Two priced AWS nodes and a Deployment web (ReplicaSet, two Running pods) asking 1 CPU, 2 GiB."""
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": namespace}})
    nodes = [f"journey-{suffix}-{i}" for i in (1, 2)]
    for i, node in enumerate(nodes):
        labels = {
            "node.kubernetes.io/instance-type": "m5.large",
            "topology.kubernetes.io/region": "us-east-1",
            "topology.kubernetes.io/zone": "us-east-1a",
        }
        core.create_node({"metadata": {"name": node, "labels": labels},
                          "spec": {"providerID": f"aws:///us-east-1a/i-0{suffix}{i:04d}"}})  # fmt: skip
        capacity = {"cpu": "2", "memory": "8Gi", "pods": "110"}
        core.patch_node_status(node, {"status": {"capacity": capacity, "allocatable": capacity}})
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "app", "image": "registry.invalid/web:1",
                                 "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]},
    }  # fmt: skip
    spec = {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template}
    web = apps.create_namespaced_deployment(namespace, {"metadata": {"name": "web"}, "spec": spec})

    def owner(kind: str, obj: Any) -> list[dict[str, Any]]:
        return [{"apiVersion": "apps/v1", "kind": kind, "name": obj.metadata.name,
                 "uid": obj.metadata.uid, "controller": True}]  # fmt: skip

    rs = apps.create_namespaced_replica_set(
        namespace,
        {"metadata": {"name": "web-7d9f8b6c5d", "ownerReferences": owner("Deployment", web)}, "spec": spec},
    )
    for pod in PODS:
        meta = {"name": pod, "labels": {"app": "web"}, "ownerReferences": owner("ReplicaSet", rs)}
        body = {"metadata": meta, "spec": {**template["spec"], "nodeName": nodes[0]}}
        core.create_namespaced_pod(namespace, body)
        # No kubelet: the status subresource says what a kubelet would.
        core.patch_namespaced_pod_status(pod, namespace, {"status": {
            "phase": "Running", "startTime": "2026-01-01T00:00:00Z",
            "containerStatuses": [{"name": "app", "image": "registry.invalid/web:1", "imageID": "",
                                   "ready": True, "restartCount": 0,
                                   "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}],
        }})  # fmt: skip
    return nodes


def history(namespace: str, end: int) -> tuple[tuple[Container, ...], int]:
    """9 days of the two web pods: ~100m CPU with a 140m midday hour, 300 MiB working set."""
    start = end // DAY * DAY - (HISTORY_DAYS - 1) * DAY
    containers = tuple(
        Container(namespace, pod, "app", lambda h: 140.0 if (h % DAY) // HOUR == 12 else 100.0,
                  lambda _h: 300.0 * MIB)
        for pod in PODS
    )  # fmt: skip
    return containers, start


def agent_metrics(port: int) -> dict[str, float]:
    """The agent's /metrics; empty while it is not listening yet."""
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.TransportError:
        return {}
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def start_agent(workdir: Path, settings: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    """`cloudios-agent` as a process: 1-s cycles, an inventory every 2 s, 9 days of history."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLOUDIOS_")},
        "CLOUDIOS_AGENT_SAMPLE_SECONDS": "1",
        "CLOUDIOS_AGENT_INVENTORY_SECONDS": "2",
        "CLOUDIOS_AGENT_HEALTH_HOST": "127.0.0.1",
        "CLOUDIOS_AGENT_HISTORY_DAYS": str(HISTORY_DAYS),
        **settings,
    }
    log_path = workdir / "agent.log"
    with log_path.open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "cloudios_agent.main"], env=env, stdout=log, stderr=log
        )
    return agent, log_path


def refuses_tls_12(port: int, ca_file: Path) -> bool:
    """The listener the agent reports to does not speak TLS 1.2."""
    context = ssl.create_default_context(cafile=str(ca_file))
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            context.wrap_socket(raw, server_hostname="127.0.0.1").close()
    except ssl.SSLError:
        return True
    return False


def apply(control_plane: ControlPlane, doc: dict[str, Any]) -> None:
    control_plane.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc))


def install_account(
    control_plane: ControlPlane, operators: OperatorFactory, cluster: Cluster, workdir: Path
) -> tuple[str, Path, Path]:
    """The operator with its ingest listener (the production path of agent reports), then the user's
    `kubectl apply` of the account; returns the ingest URL, its CA, and the token copied from the Secret."""
    certs = tls.generate_certificate(workdir / "ingest-tls", ["127.0.0.1"])
    port = free_port()
    operators(
        cluster.namespace,
        CLOUDIOS_MASTER_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        CLOUDIOS_AGENT_CHECK_INTERVAL_SECONDS="1",
        CLOUDIOS_INGEST_PORT=str(port),
        CLOUDIOS_INGEST_ADDR="127.0.0.1",
        CLOUDIOS_INGEST_CERT_FILE=str(certs.cert_file),
        CLOUDIOS_INGEST_KEY_FILE=str(certs.key_file),
    )
    spec = {"provider": "kubernetes", "kubernetes": {"clusterName": "edge-1"}}
    metadata = {"name": "edge", "namespace": cluster.namespace}
    apply(control_plane, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "CloudAccount", "metadata": metadata,
                          "spec": spec})  # fmt: skip
    waiting = cluster.wait_condition(ACCOUNTS, "edge", "Ready", "False", reason="AgentNotReporting")
    assert "edge-agent-token" in waiting["message"]
    secret = cluster.core.read_namespaced_secret("edge-agent-token", cluster.namespace)
    token_file = workdir / "cluster-token.txt"
    token_file.write_text(base64.b64decode(secret.data["token"]).decode())
    assert refuses_tls_12(port, certs.ca_file)
    return f"https://127.0.0.1:{port}", certs.ca_file, token_file


def wait_backfill_sent(agent: subprocess.Popen[bytes], log_path: Path, health: int) -> dict[str, float]:
    """The agent's counters once its history backfill has run and its queue is empty."""

    def done() -> dict[str, float] | None:
        assert agent.poll() is None, log_path.read_text()[-3000:]
        values = agent_metrics(health)
        ran = values.get("cloudios_agent_history_queries_total", 0) > 0
        return values if ran and values["cloudios_agent_batches_queued"] == 0 else None

    return eventually(done, timeout=60, what="the agent's backfill sent")


def scan(control_plane: ControlPlane, cluster: Cluster, resource_id: str) -> dict[str, Any]:
    """A ScanPolicy of Kubernetes modules (its first run publishes); the Recommendation of a resource."""
    spec = {"schedule": "0 5 * * *", "lookbackDays": 14, "accountSelector": {},
            "modules": [{"name": "k8s.workload.rightsize"}, {"name": "k8s.node.underutilized"}]}  # fmt: skip
    metadata = {"name": "k8s-daily", "namespace": cluster.namespace}
    apply(control_plane, {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ScanPolicy", "metadata": metadata,
                          "spec": spec})  # fmt: skip

    def published() -> dict[str, Any] | None:
        recs = cluster.items(RECOMMENDATIONS, "cloudios.io/policy=k8s-daily")
        return next((r for r in recs if r["spec"]["resourceId"] == resource_id), None)

    return eventually(published, timeout=60, what=f"the Recommendation of {resource_id}")


def approve(control_plane: ControlPlane, cluster: Cluster, name: str) -> dict[str, Any]:
    """Approve as a user, through the decision webhook (which stamps who decided)."""
    control_plane.kubectl(
        "patch", RECOMMENDATIONS, name, "-n", cluster.namespace, "--type=merge",
        "-p", '{"spec": {"decision": {"type": "Approved", "reason": "checked with the web team"}}}',
        f"--as={APPROVER}", "--as-group=system:masters",
    )  # fmt: skip
    return eventually(
        lambda: (r := cluster.get(RECOMMENDATIONS, name))["status"].get("state") == "Approved" and r,
        what="Approved",
    )


def assert_operator_counted_the_reports(
    control_plane: ControlPlane, operators: OperatorFactory, cluster: Cluster
) -> None:
    """The operator's /metrics: ingest counted the agent's reports, none refused, and the account's
    last report time (what CloudiosAgentSilent watches) is set."""
    reader = service_account_token(control_plane, cluster.namespace, "prometheus")
    grant_metrics(control_plane, cluster.namespace, "prometheus")
    (operator,) = operators.started
    found = scrape(
        int(operator.env["CLOUDIOS_METRICS_PORT"]), reader, operator.env["CLOUDIOS_WEBHOOK_CA_FILE"]
    )
    assert found["cloudios_agent_reports_received_total"][0].value > 0
    assert sum(s.value for s in found["cloudios_agent_reports_rejected_total"]) == 0
    (last,) = [
        s for s in found["cloudios_agent_last_report_timestamp_seconds"] if s.labels["account"] == "edge"
    ]
    assert time.time() - 300 < last.value <= time.time()


def test_a_kubectl_applied_cluster_gets_priced_approvable_recommendations_from_its_agent(
    control_plane: ControlPlane, operators: OperatorFactory, cluster: Cluster, tmp_path: Path
) -> None:
    started = time.monotonic()
    api = control_plane.api_client()
    suffix = secrets.token_hex(3)
    workloads = f"journey-{suffix}"
    nodes = create_cluster_objects(api, workloads, suffix)
    identity = create_agent_identity(api)
    end = int(time.time()) // HOUR * HOUR
    containers, first = history(workloads, end)
    build_blocks(containers, first, end, tmp_path / "tsdb", interval=300)
    usage = [PodUsage(workloads, pod, (ContainerUsage("app", "110m", "310Mi"),)) for pod in PODS]
    assert control_plane.ca_path is not None
    proxy = MetricsProxy(control_plane.server_url, control_plane.ca_path, lambda: usage, tmp_path / "proxy")
    agent: subprocess.Popen[bytes] | None = None
    try:
        proxy.start()
        with serve(tmp_path / "tsdb", tmp_path / "prometheus") as prometheus:
            ingest_url, ingest_ca, token_file = install_account(control_plane, operators, cluster, tmp_path)
            health = free_port()
            agent, log_path = start_agent(tmp_path, {
                "CLOUDIOS_AGENT_INGEST_URL": ingest_url,
                "CLOUDIOS_AGENT_CA_FILE": str(ingest_ca),
                "CLOUDIOS_AGENT_TOKEN_FILE": str(token_file),
                "CLOUDIOS_AGENT_KUBECONFIG": str(write_kubeconfig(
                    tmp_path / "agent-kubeconfig.json", proxy.url, proxy.ca_file, identity.token)),
                "CLOUDIOS_AGENT_HEALTH_PORT": str(health),
                "CLOUDIOS_AGENT_PROMETHEUS_URL": prometheus.url,
                "CLOUDIOS_AGENT_PROMETHEUS_CA_FILE": str(prometheus.ca_file),
            })  # fmt: skip
            metrics = wait_backfill_sent(agent, log_path, health)
            cluster.wait_condition(ACCOUNTS, "edge", "Ready", "True", reason="AgentReporting", timeout=30)
            assert metrics["cloudios_agent_history_rows_total"] > 0
            assert metrics["cloudios_agent_samples_total"] > 0  # live metrics.k8s.io samples, through RBAC
            assert metrics["cloudios_agent_batches_rejected_total"] == 0
            assert metrics["cloudios_agent_history_failures_total"] == 0
            assert token_file.read_text() not in log_path.read_text()
            assert_operator_counted_the_reports(control_plane, operators, cluster)
            rec = scan(control_plane, cluster, f"{workloads}/Deployment/web")
    finally:
        if agent is not None:
            agent.send_signal(signal.SIGTERM)
            agent.wait(30)
        proxy.stop()
        delete_agent_identity(api, identity)
        for node in nodes:
            k8s.CoreV1Api(api).delete_node(node)

    spec = rec["spec"]
    assert (spec["provider"], spec["module"], spec["accountRef"]) == (
        "kubernetes", "k8s.workload.rightsize", {"name": "edge"})  # fmt: skip
    assert spec["monthlySavings"]["currency"] == "USD"
    # 2 pods x (~0.88 vCPU x 0.031 + ~1.7 GiB x 0.0042 USD/h) x 730 h on an m5.large (0.096 USD/h).
    assert Decimal(30) < Decimal(spec["monthlySavings"]["amount"]) < Decimal(70), spec["monthlySavings"]
    assert "kubectl patch deployment web" in spec["evidence"]["kubectl"]
    assert spec["proposed"]["containers"]["app"]["requests"] == {"cpu": "120m", "memory": "345Mi"}
    approved = approve(control_plane, cluster, rec["metadata"]["name"])
    assert approved["spec"]["decision"]["decidedBy"] == APPROVER
    print(f"journey wall time: {time.monotonic() - started:.1f}s")

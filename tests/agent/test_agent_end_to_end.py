"""The agent process end to end: real API server (as a ServiceAccount with only the agent's ClusterRole),
the metrics.k8s.io test front proxy, and a TLS ingest stand-in that keeps every payload.

Asserts what the inventory says (owner chains, HPA, node, volumes, load balancers), that every
payload is valid under the strict wire contract, that the canaries planted in env, command, args,
annotations, labels, a Secret and a ConfigMap appear in no payload and no log line, and that the
agent's /healthz and /metrics answer.
"""

from __future__ import annotations

import os
import secrets
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s

from cloudios_agent import wire
from tests.agent.conftest import AgentAccess
from tests.agent.estate import Estate, create_estate, remove_cluster_scoped
from tests.support.controlplane import ControlPlane, free_port
from tests.support.ingest_standin import IngestStandIn
from tests.support.metrics_proxy import ContainerUsage, PodUsage

pytestmark = [pytest.mark.cluster]
INGEST_TOKEN = "ccat_e2e_" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def run(
    control_plane: ControlPlane, agent_access: AgentAccess, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The estate, then the agent for a few cycles; returns what ingest received and the agent's log."""
    work = tmp_path_factory.mktemp("agent-e2e")
    api = control_plane.api_client()
    suffix = secrets.token_hex(3)
    namespace = f"agent-e2e-{suffix}"
    k8s.CoreV1Api(api).create_namespace(
        {"metadata": {"name": namespace, "labels": {"team": f"canary-{suffix}"}}}
    )
    estate = create_estate(api, namespace, suffix, canary=f"canary-{secrets.token_hex(8)}")
    agent_access.metrics.pods = [
        PodUsage(namespace, "web-7d9f-a", (ContainerUsage("app", "150m", "100Mi"),)),
        PodUsage(namespace, "web-7d9f-b", (ContainerUsage("app", "170000000n", "110Mi"),)),
        PodUsage(namespace, "db-0", (ContainerUsage("app", "1", "1Gi"),)),
    ]
    ingest = IngestStandIn(work / "ingest", INGEST_TOKEN).start()
    token_file = work / "token"
    token_file.write_text(INGEST_TOKEN)
    health = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CLOUDIOS_AGENT_")},
        "CLOUDIOS_AGENT_INGEST_URL": ingest.url,
        "CLOUDIOS_AGENT_TOKEN_FILE": str(token_file),
        "CLOUDIOS_AGENT_CA_FILE": str(ingest.ca_file),
        "CLOUDIOS_AGENT_KUBECONFIG": str(agent_access.kubeconfig),
        "CLOUDIOS_AGENT_SAMPLE_SECONDS": "1",
        "CLOUDIOS_AGENT_INVENTORY_SECONDS": "1",
        "CLOUDIOS_AGENT_HEALTH_PORT": str(health),
        "CLOUDIOS_AGENT_HEALTH_HOST": "127.0.0.1",
        "CLOUDIOS_AGENT_LOG_LEVEL": "DEBUG",
    }
    log_path = work / "agent.log"
    with log_path.open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "cloudios_agent.main"], env=env, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 60
        complete = None
        while time.monotonic() < deadline and agent.poll() is None:
            complete = next((r for r in reversed(ingest.received) if _has_estate(r.report(), estate)), None)
            if complete is not None:
                break
            time.sleep(0.5)
        assert complete is not None, f"no complete inventory; agent log:\n{log_path.read_text()[-3000:]}"
        base = f"http://127.0.0.1:{health}"
        healthz = httpx.get(f"{base}/healthz", timeout=5)
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(30)
        ingest.stop()
        remove_cluster_scoped(api, estate)
    return {
        "estate": estate,
        "received": list(ingest.received),
        "report": complete.report(),
        "exit": code,
        "log": log_path.read_text(),
        "healthz": healthz,
        "metrics": metrics,
        "token": agent_access.token,
    }


def _has_estate(report: dict[str, Any], estate: Estate) -> bool:
    pods = [p for p in report.get("inventory", {}).get("pods", []) if p["namespace"] == estate.namespace]
    lbs = report.get("inventory", {}).get("loadBalancers", [])
    running = any(p["name"] == "web-7d9f-a" and p["phase"] == "Running" for p in pods)
    return len(pods) == 7 and running and any(lb["namespace"] == estate.namespace for lb in lbs)


def _inventory(run: dict[str, Any]) -> tuple[wire.Inventory, Estate]:
    inventory = wire.parse_report(run["report"]).inventory
    assert inventory is not None
    return inventory, run["estate"]


def test_every_payload_is_a_valid_numbered_gzip_report(run: dict[str, Any]) -> None:
    reports = [wire.parse_report(r.report()) for r in run["received"]]
    assert all(r.authorized and r.content_encoding == "gzip" for r in run["received"])
    assert len({r.stream for r in reports}) == 1
    assert [r.sequence for r in reports] == list(range(1, len(reports) + 1))
    assert run["exit"] == 0


def test_pods_resolve_to_their_workloads(run: dict[str, Any]) -> None:
    inventory, estate = _inventory(run)
    pods = {p.name: p for p in inventory.pods if p.namespace == estate.namespace}
    assert {name: (p.workload_kind, p.workload_name) for name, p in pods.items()} == {
        "web-7d9f-a": ("Deployment", "web"),
        "web-7d9f-b": ("Deployment", "web"),
        "db-0": ("StatefulSet", "db"),
        "logs-x1": ("DaemonSet", "logs"),
        "nightly-2901-q": ("CronJob", "nightly"),
        "once-z": ("Job", "once"),
        "solo": ("Pod", "solo"),
    }
    web = pods["web-7d9f-a"]
    assert web.phase == "Running"
    assert web.node == estate.node
    assert web.claims == ("data",)
    assert pods["web-7d9f-b"].claims == ()
    (app,) = web.containers
    assert (app.name, app.requests, app.limits) == (
        "app",
        wire.Resources(250, 128 * 2**20),
        wire.Resources(None, 256 * 2**20),
    )
    assert app.restarts == 3
    assert app.last_oom_killed_at is not None
    assert app.last_oom_killed_at.isoformat() == "2026-03-01T08:59:00+00:00"


def test_workloads_hpa_node_volumes_and_load_balancers(run: dict[str, Any]) -> None:
    inventory, estate = _inventory(run)
    workloads = {(w.kind, w.name): w for w in inventory.workloads if w.namespace == estate.namespace}
    # The ReplicaSet under web and the Job under nightly are reported through their parents.
    assert set(workloads) == {("Deployment", "web"), ("StatefulSet", "db"), ("DaemonSet", "logs"),
                              ("CronJob", "nightly"), ("Job", "once")}  # fmt: skip
    web = workloads["Deployment", "web"]
    assert web.replicas == 2
    assert web.hpa == wire.Hpa(2, 10, ("cpu", "memory", "other"))
    assert workloads["StatefulSet", "db"].hpa is None
    node = next(n for n in inventory.nodes if n.name == estate.node)
    assert node == wire.Node(
        estate.node, node.created_at, wire.Resources(2000, 8 * 2**30), wire.Resources(1930, 7 * 2**30),
        "m5.large", "eu-west-3", "eu-west-3a", "aws:///eu-west-3a/i-0abc123", "spot", "arm64",
    )  # fmt: skip
    (claim,) = [c for c in inventory.claims if c.namespace == estate.namespace]
    assert (claim.name, claim.phase, claim.requested_bytes, claim.storage_class, claim.volume) == (
        "data", "Bound", 10 * 2**30, "gp3", estate.volume)  # fmt: skip
    volume = next(v for v in inventory.volumes if v.name == estate.volume)
    assert (volume.phase, volume.capacity_bytes, volume.claim, volume.csi_driver, volume.volume_handle) == (
        "Bound", 10 * 2**30, f"{estate.namespace}/data", "ebs.csi.aws.com", "vol-0abc123")  # fmt: skip
    lbs = [lb for lb in inventory.load_balancers if lb.namespace == estate.namespace]
    assert [(lb.name, lb.ready_endpoints) for lb in lbs] == [("front", 2)]  # the ClusterIP Service is not one
    assert estate.namespace in {n.name for n in inventory.namespaces}


def test_canaries_never_leave_the_cluster(run: dict[str, Any], control_plane: ControlPlane) -> None:
    estate: Estate = run["estate"]
    # The canaries are really there, where an over-curious agent would find them.
    pod = k8s.CoreV1Api(control_plane.api_client()).read_namespaced_pod("web-7d9f-a", estate.namespace)
    assert estate.canary in pod.spec.containers[0].env[0].value
    for received in run["received"]:
        text = received.text()
        assert estate.canary not in text
        for field in ("env", "command", "args", "annotations", "labels", "managedFields", "DB_PASSWORD"):
            assert f'"{field}"' not in text
    assert estate.canary not in run["log"]
    assert run["token"] not in run["log"]
    assert INGEST_TOKEN not in run["log"]


def test_the_agents_identity_cannot_read_secrets(run: dict[str, Any], control_plane: ControlPlane) -> None:
    assert control_plane.ca_path is not None
    trust = ssl.create_default_context(cafile=str(control_plane.ca_path))
    headers = {"Authorization": f"Bearer {run['token']}"}
    for path in (f"/api/v1/namespaces/{run['estate'].namespace}/secrets", "/api/v1/configmaps",
                 f"/api/v1/namespaces/{run['estate'].namespace}/pods/web-7d9f-a/log"):  # fmt: skip
        response = httpx.get(control_plane.server_url + path, headers=headers, verify=trust)
        assert response.status_code == 403, path


def test_health_and_metrics_endpoints(run: dict[str, Any]) -> None:
    assert run["healthz"].status_code == 200
    metrics: str = run["metrics"]
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in metrics.splitlines()
        if line and not line.startswith("#")
    }
    assert values["cloudios_agent_samples_total"] >= 3
    assert values["cloudios_agent_batches_sent_total"] >= 1
    assert values["cloudios_agent_flush_bytes_sum"] > 0
    assert values["cloudios_agent_last_success_timestamp_seconds"] > 0
    assert values["cloudios_agent_batches_dropped_total"] == 0
    assert values['cloudios_agent_objects{resource="pods"}'] >= 7
    assert values["cloudios_agent_resident_memory_bytes"] > 0


def test_bad_settings_exit_2_naming_the_flag(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDIOS_AGENT_")}
    cases = [
        ([], "--ingest-url (CLOUDIOS_AGENT_INGEST_URL) must be an https:// URL"),
        (["--ingest-url", "http://ingest:80"], "must be an https:// URL"),
        (["--ingest-url", "https://ingest"], "--token-file (CLOUDIOS_AGENT_TOKEN_FILE) is required"),
        (
            ["--ingest-url", "https://ingest", "--token-file", str(tmp_path / "nope")],
            "is not a readable file",
        ),
    ]
    token = tmp_path / "token"
    token.write_text("t" * 40)
    cases += [
        (["--ingest-url", "https://ingest", "--token-file", str(token), "--sample-seconds", "0"],
         "--sample-seconds (CLOUDIOS_AGENT_SAMPLE_SECONDS) must be between 1 and 86400"),
        (["--ingest-url", "https://ingest", "--token-file", str(token), "--kubeconfig", str(token)],
         "--kubeconfig (CLOUDIOS_AGENT_KUBECONFIG): kubeconfig"),
        (["--ingest-url", "https://ingest", "--token-file", str(token), "--health-port", "http"],
         "--health-port (CLOUDIOS_AGENT_HEALTH_PORT) must be a port number"),
    ]  # fmt: skip
    for args, message in cases:
        result = subprocess.run(
            [sys.executable, "-m", "cloudios_agent.main", *args],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)

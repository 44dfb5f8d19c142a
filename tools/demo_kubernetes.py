"""`make demo`, the Kubernetes part of the operator demo: a kubernetes CloudAccount fed through ingest.

The operator serves agent reports on its ingest listener (`CLOUDIOS_INGEST_PORT`, as the chart
does). Once it has minted the cluster token into `demo-cluster-agent-token`, the demo sends that
cluster's **recorded agent reports** with it: an inventory (three m5.xlarge nodes in us-east-1 with
AWS providerIDs, so they are priced from the AWS book) and 14 days of daily usage summaries, built
with the agent's own wire contract (`cloudios_agent.wire`) and posted like the agent posts them
(gzip, bearer token, TLS 1.3, numbered batches). No agent process runs here: the demo has no
workloads to watch. tests/e2e/test_agent_journey.py runs the real agent the same way.
"""

from __future__ import annotations

import base64
import gzip
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.support.controlplane import free_port

from cloudios.security import tls
from cloudios_agent import wire
from cloudios_agent.sketch import Sketch

ACCOUNT, CLUSTER = "demo-cluster", "demo-eks-1"
SECRET = f"{ACCOUNT}-agent-token"
STREAM = "de30de30de30de30"  # hex, as the agent's random per-process stream id
DAYS = 14
MIB, GIB = 2**20, 2**30
# (workload, replicas, requested CPU m, requested memory, used CPU m, used memory)
WORKLOADS = (
    ("checkout", 3, 1000, 2 * GIB, 180.0, 600.0 * MIB),
    ("search", 2, 2000, 4 * GIB, 350.0, 1400.0 * MIB),
    ("reports", 1, 500, 1 * GIB, 420.0, 900.0 * MIB),  # sized right: no finding
)


@dataclass
class KubernetesDemo:
    """The operator's ingest settings, the CloudAccount to apply, and where ingest will listen."""

    environment: dict[str, str] = field(repr=False)
    account: dict[str, Any]
    url: str
    ca_file: Path


def start(workdir: Path, namespace: str, labels: dict[str, str]) -> KubernetesDemo:
    certs = tls.generate_certificate(workdir / "ingest-tls", ["127.0.0.1"])
    port = free_port()
    environment = {
        # Cluster tokens are stored encrypted: the operator needs a master key (a throw-away one here).
        "CLOUDIOS_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CLOUDIOS_AGENT_CHECK_INTERVAL_SECONDS": "2",
        "CLOUDIOS_INGEST_PORT": str(port),
        "CLOUDIOS_INGEST_ADDR": "127.0.0.1",
        "CLOUDIOS_INGEST_CERT_FILE": str(certs.cert_file),
        "CLOUDIOS_INGEST_KEY_FILE": str(certs.key_file),
        "CLOUDIOS_AGENT_INGEST_URL": f"https://127.0.0.1:{port}",
    }
    account = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": ACCOUNT, "namespace": namespace, "labels": labels},
        "spec": {"provider": "kubernetes", "kubernetes": {"clusterName": CLUSTER}},
    }
    return KubernetesDemo(environment, account, f"https://127.0.0.1:{port}", certs.ca_file)


def recorded_reports(now: datetime) -> list[wire.Report]:
    """The inventory, then the usage of the last 14 days (one report per day, as an agent flushes)."""
    created = now - timedelta(days=60)
    nodes = tuple(
        wire.Node(f"ip-10-0-{i}-17.ec2.internal", created, wire.Resources(4000, 16 * GIB),
                  wire.Resources(3920, 15 * GIB), "m5.xlarge", "us-east-1", "us-east-1a",
                  f"aws:///us-east-1a/i-0demo{i:011d}", "on-demand", "amd64")
        for i in range(3)
    )  # fmt: skip
    workloads, pods = [], []
    for name, replicas, cpu, memory, _, _ in WORKLOADS:
        workloads.append(wire.Workload("shop", "Deployment", name, created, replicas))
        container = wire.Container("app", wire.Resources(cpu, memory), wire.Resources(None, None), 0)
        pods += [
            wire.Pod("shop", f"{name}-7d9f8b6c5d-{i}", "Deployment", name, "Running", (container,),
                     nodes[i % len(nodes)].name, created)
            for i in range(replicas)
        ]  # fmt: skip
    inventory = wire.Inventory(
        taken_at=now.replace(microsecond=0), nodes=nodes, workloads=tuple(workloads), pods=tuple(pods),
        namespaces=(wire.Namespace("shop", created),),
    )  # fmt: skip
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    reports = [wire.Report(STREAM, 1, now.replace(microsecond=0), "recorded", inventory, ())]
    for day in range(DAYS, 0, -1):
        start = midnight - timedelta(days=day)
        rows = tuple(
            wire.ContainerUsage(
                "shop", "Deployment", name, "app", "day", start, "metrics-api",
                wire.Summary.of(Sketch.of([cpu_used * f for f in (0.6, 0.8, 1.0, 1.2)] * 720)),
                wire.Summary.of(Sketch.of([mem_used * f for f in (0.9, 0.95, 1.0)] * 960)),
            )
            for name, _, _, _, cpu_used, mem_used in WORKLOADS
        )  # fmt: skip
        reports.append(
            wire.Report(STREAM, len(reports) + 1, now.replace(microsecond=0), "recorded", None, rows)
        )
    return reports


def send(demo: KubernetesDemo, token: str, reports: list[wire.Report]) -> int:
    """POST each report as the agent does; returns how many ingest accepted."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    accepted = 0
    with httpx.Client(verify=tls.client_context(demo.ca_file), timeout=30) as client:
        for report in reports:
            body = gzip.compress(wire.encode_report(report), compresslevel=6)
            response = client.post(f"{demo.url}{wire.PATH}", content=body, headers=headers)
            if response.status_code != httpx.codes.OK:
                raise RuntimeError(f"ingest refused recorded report {report.sequence}: {response.text[:300]}")
            accepted += 1
    return accepted

"""Bulk estate for bench/agent.py: nodes, workloads with their ReplicaSets/Jobs, pods with statuses, fast.

Objects are posted as raw JSON over a few keep-alive connections in parallel (no kubelet or
controllers run: owners and statuses are written directly). Pods look like real ones: labels,
annotations, env, resources, probes, a Running status with container statuses.
"""

from __future__ import annotations

import json
import random
import ssl
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

KINDS = (  # (kind, api path segment, share of workloads)
    ("Deployment", "apps/v1", "deployments", 0.6),
    ("StatefulSet", "apps/v1", "statefulsets", 0.2),
    ("DaemonSet", "apps/v1", "daemonsets", 0.1),
    ("CronJob", "batch/v1", "cronjobs", 0.1),
)
INSTANCE_TYPES = ("m5.large", "m5.xlarge", "c6g.2xlarge", "r6i.large")


@dataclass
class Estate:
    namespaces: list[str] = field(default_factory=list)
    pods: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)
    nodes: int = 0
    workloads: int = 0
    objects: int = 0


class Poster:
    """Thread-local httpx clients against the API server as the administrator."""

    def __init__(self, server: str, tls: ssl.SSLContext, threads: int = 8) -> None:
        self._server, self._tls, self._local = server, tls, threading.local()
        self.pool = ThreadPoolExecutor(threads)
        self.count = 0
        self._lock = threading.Lock()

    def _client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            self._local.client = httpx.Client(base_url=self._server, verify=self._tls, timeout=60)
        client: httpx.Client = self._local.client
        return client

    def request(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = {"Content-Type": "application/merge-patch+json"} if method == "PATCH" else {}
        response = self._client().request(method, path, content=json.dumps(body), headers=headers)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        with self._lock:
            self.count += 1
        result: dict[str, Any] = response.json()
        return result

    def each(self, fn: Callable[[Any], object], items: Iterable[Any]) -> list[Any]:
        return list(self.pool.map(fn, items))


def _pod_body(
    name: str, labels: dict[str, str], owner: dict[str, Any], node: str, rng: random.Random
) -> dict[str, Any]:
    cpu, mem = rng.choice((100, 250, 500, 1000)), rng.choice((128, 256, 512, 1024))
    return {
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {
                "prometheus.io/scrape": "true",
                "checksum/config": f"{rng.getrandbits(128):032x}",
            },
            "ownerReferences": [owner],
        },
        "spec": {
            "nodeName": node,
            "containers": [
                {
                    "name": "app",
                    "image": "registry.invalid/team/app:1.2.3",
                    "args": ["--port=8080", "--log-level=info"],
                    "env": [
                        {"name": "MODE", "value": "production"},
                        {"name": "REGION", "value": "eu-west-3"},
                    ],
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "resources": {
                        "requests": {"cpu": f"{cpu}m", "memory": f"{mem}Mi"},
                        "limits": {"memory": f"{mem * 2}Mi"},
                    },
                    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
                }
            ],
        },
    }


def _pod_status(rng: random.Random) -> dict[str, Any]:
    return {
        "status": {
            "phase": "Running",
            "podIP": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "startTime": "2026-03-01T08:00:00Z",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "image": "registry.invalid/team/app:1.2.3",
                    "imageID": "",
                    "ready": True,
                    "restartCount": rng.choice((0, 0, 0, 1, 4)),
                    "state": {"running": {"startedAt": "2026-03-01T08:00:05Z"}},
                }
            ],
        }
    }


def _owner(obj: dict[str, Any], kind: str, api_version: str) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
    }


def _node(poster: Poster, name: str, i: int) -> None:
    labels = {
        "node.kubernetes.io/instance-type": INSTANCE_TYPES[i % 4],
        "topology.kubernetes.io/region": "eu-west-3",
        "topology.kubernetes.io/zone": f"eu-west-3{'abc'[i % 3]}",
        "kubernetes.io/arch": "amd64",
        "karpenter.sh/capacity-type": "spot" if i % 5 == 0 else "on-demand",
    }
    body = {
        "metadata": {"name": name, "labels": labels},
        "spec": {"providerID": f"aws:///eu-west-3a/i-{i:017x}"},
    }
    poster.request("POST", "/api/v1/nodes", body)
    status = {
        "capacity": {"cpu": "4", "memory": "16Gi", "pods": "110"},
        "allocatable": {"cpu": "3920m", "memory": "15Gi", "pods": "110"},
    }
    poster.request("PATCH", f"/api/v1/nodes/{name}/status", {"status": status})


def _hpa(poster: Poster, ns: str, name: str) -> None:
    target = {"type": "Utilization", "averageUtilization": 70}
    spec = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
        "minReplicas": 2,
        "maxReplicas": 20,
        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
    }
    path = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
    poster.request("POST", path, {"metadata": {"name": name}, "spec": spec})


def _workload(
    poster: Poster, item: tuple[str, str, str, str, int], per: int, nodes: list[str]
) -> list[tuple[str, str]]:
    """One workload, its ReplicaSet or Job where it has one, and ``per`` pods with Running statuses."""
    kind, api_version, plural, ns, i = item
    name = f"{plural[:-1]}-{i:04d}"
    labels = {"app": name, "team": f"team-{i % 7}"}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.invalid/app"}]},
    }
    spec: dict[str, Any] = {"selector": {"matchLabels": labels}, "template": template, "replicas": per}
    if kind == "StatefulSet":
        spec["serviceName"] = name
    elif kind == "DaemonSet":
        del spec["replicas"]
    elif kind == "CronJob":
        template["spec"]["restartPolicy"] = "Never"
        spec = {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}
    base = f"/apis/{api_version}/namespaces/{ns}"
    obj = poster.request(
        "POST", f"{base}/{plural}", {"metadata": {"name": name, "labels": labels}, "spec": spec}
    )
    owner = _owner(obj, kind, api_version)
    if kind == "Deployment":
        meta = {"name": f"{name}-5f7c9", "ownerReferences": [owner]}
        owner = _owner(
            poster.request("POST", f"{base}/replicasets", {"metadata": meta, "spec": spec}),
            "ReplicaSet",
            "apps/v1",
        )
        if i % 3 == 0:
            _hpa(poster, ns, name)
    elif kind == "CronJob":
        meta = {"name": f"{name}-29011", "ownerReferences": [owner]}
        job = poster.request(
            "POST", f"/apis/batch/v1/namespaces/{ns}/jobs", {"metadata": meta, "spec": {"template": template}}
        )
        owner = _owner(job, "Job", "batch/v1")
    made = []
    rng = random.Random(i)
    for r in range(per):
        pod = f"{name}-{r}"
        body = _pod_body(pod, labels, owner, nodes[rng.randrange(len(nodes))], rng)
        poster.request("POST", f"/api/v1/namespaces/{ns}/pods", body)
        poster.request("PATCH", f"/api/v1/namespaces/{ns}/pods/{pod}/status", _pod_status(rng))
        made.append((ns, pod))
    return made


def _load_balancer(poster: Poster, ns: str, i: int) -> None:
    """A LoadBalancer Service with an EndpointSlice of three ready endpoints."""
    spec = {"type": "LoadBalancer", "selector": {"app": "deployment-0000"}, "ports": [{"port": 80}]}
    poster.request("POST", f"/api/v1/namespaces/{ns}/services", {"metadata": {"name": "front"}, "spec": spec})
    endpoints = [{"addresses": [f"10.2.{i}.{j}"], "conditions": {"ready": True}} for j in range(1, 4)]
    meta = {"name": "front-1", "labels": {"kubernetes.io/service-name": "front"}}
    body = {"metadata": meta, "addressType": "IPv4", "endpoints": endpoints}
    poster.request("POST", f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices", body)


def build(poster: Poster, *, pods: int, nodes: int, workloads: int, namespaces: int = 50) -> Estate:
    """Create the estate; ``pods`` are spread evenly over ``workloads`` (their replicas)."""
    names = [f"bench-{i:02d}" for i in range(namespaces)]
    estate = Estate(namespaces=names, nodes=nodes, workloads=workloads)
    poster.each(lambda ns: poster.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}}), names)
    node_names = [f"bench-node-{i:04d}" for i in range(nodes)]
    poster.each(lambda i: _node(poster, node_names[i], i), range(nodes))
    per = max(1, pods // workloads)
    plan = [
        (kind, api_version, plural, names[i % namespaces], i)
        for kind, api_version, plural, share in KINDS
        for i in range(int(workloads * share))
    ]
    for made in poster.each(lambda item: _workload(poster, item, per, node_names), plan):
        estate.pods += made
    poster.each(lambda i: _load_balancer(poster, names[i], i), range(namespaces))
    estate.objects = poster.count
    return estate

"""A small estate for agent tests: every kind the agent reads, canaries planted where it must not look.

Nothing runs (no kubelet, no controllers): workloads, their ReplicaSets/Jobs and pods are created
as objects with owner references, and statuses are written through the status subresource.
"""

from __future__ import annotations

import base64
import contextlib
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s

IMAGE = "registry.invalid/app:1"


@dataclass(frozen=True)
class Estate:
    namespace: str
    node: str
    volume: str
    canary: str


def _owner(kind: str, api_version: str, obj: Any) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": api_version,
            "kind": kind,
            "name": obj.metadata.name,
            "uid": obj.metadata.uid,
            "controller": True,
        }
    ]


def _template(canary: str, labels: dict[str, str]) -> dict[str, Any]:
    """A pod template full of things the agent must never read: env, command, args, annotations, labels."""
    return {
        "metadata": {"labels": {**labels, "team": canary}, "annotations": {"note": f"annotation {canary}"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": IMAGE,
                    "command": [f"/bin/{canary}"],
                    "args": [f"--password={canary}"],
                    "env": [{"name": "DB_PASSWORD", "value": f"env {canary}"}],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "128Mi"},
                        "limits": {"memory": "256Mi"},
                    },
                }
            ],
            "volumes": [
                {"name": "creds", "secret": {"secretName": "creds"}},
                {"name": "conf", "configMap": {"name": "conf"}},
            ],
        },
    }


def create_estate(api: k8s.ApiClient, namespace: str, suffix: str, canary: str) -> Estate:
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    batch, autoscaling = k8s.BatchV1Api(api), k8s.AutoscalingV2Api(api)
    discovery = k8s.DiscoveryV1Api(api)
    node, volume = f"agent-node-{suffix}", f"agent-pv-{suffix}"
    meta = {"labels": {"team": canary}, "annotations": {"note": f"annotation {canary}"}}

    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "creds", **meta},
            "data": {"password": base64.b64encode(canary.encode()).decode()},
        },
    )
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "conf", **meta}, "data": {"key": canary}}
    )

    core.create_node(
        {
            "metadata": {
                "name": node,
                "annotations": {"note": canary},
                "labels": {
                    "node.kubernetes.io/instance-type": "m5.large",
                    "topology.kubernetes.io/region": "eu-west-3",
                    "topology.kubernetes.io/zone": "eu-west-3a",
                    "kubernetes.io/arch": "arm64",
                    "karpenter.sh/capacity-type": "spot",
                    "owner": canary,
                },
            },
            "spec": {"providerID": "aws:///eu-west-3a/i-0abc123"},
        }
    )
    core.patch_node_status(
        node,
        {
            "status": {
                "capacity": {"cpu": "2", "memory": "8Gi", "pods": "110"},
                "allocatable": {"cpu": "1930m", "memory": "7Gi", "pods": "110"},
            }
        },
    )

    core.create_persistent_volume(
        {
            "metadata": {"name": volume, **meta},
            "spec": {
                "capacity": {"storage": "10Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "gp3",
                "claimRef": {"namespace": namespace, "name": "data"},
                "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-0abc123"},
            },
        }
    )
    core.patch_persistent_volume_status(volume, {"status": {"phase": "Bound"}})
    core.create_namespaced_persistent_volume_claim(
        namespace,
        {
            "metadata": {"name": "data", **meta},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "gp3",
                "volumeName": volume,
                "resources": {"requests": {"storage": "10Gi"}},
            },
        },
    )
    core.patch_namespaced_persistent_volume_claim_status("data", namespace, {"status": {"phase": "Bound"}})

    def selector(app: str) -> dict[str, Any]:
        return {"matchLabels": {"app": app}}

    web = apps.create_namespaced_deployment(
        namespace,
        {
            "metadata": {"name": "web", **meta},
            "spec": {
                "replicas": 2,
                "selector": selector("web"),
                "template": _template(canary, {"app": "web"}),
            },
        },
    )
    rs = apps.create_namespaced_replica_set(
        namespace,
        {
            "metadata": {"name": "web-7d9f", "ownerReferences": _owner("Deployment", "apps/v1", web)},
            "spec": {
                "replicas": 2,
                "selector": selector("web"),
                "template": _template(canary, {"app": "web"}),
            },
        },
    )
    db = apps.create_namespaced_stateful_set(
        namespace,
        {
            "metadata": {"name": "db"},
            "spec": {
                "replicas": 1,
                "serviceName": "db",
                "selector": selector("db"),
                "template": _template(canary, {"app": "db"}),
            },
        },
    )
    logs = apps.create_namespaced_daemon_set(
        namespace,
        {
            "metadata": {"name": "logs"},
            "spec": {"selector": selector("logs"), "template": _template(canary, {"app": "logs"})},
        },
    )
    job_template = _template(canary, {"app": "job"})
    job_template["spec"]["restartPolicy"] = "Never"
    nightly = batch.create_namespaced_cron_job(
        namespace,
        {
            "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": job_template}}},
        },
    )
    nightly_job = batch.create_namespaced_job(
        namespace,
        {
            "metadata": {"name": "nightly-2901", "ownerReferences": _owner("CronJob", "batch/v1", nightly)},
            "spec": {"template": job_template},
        },
    )
    once = batch.create_namespaced_job(
        namespace, {"metadata": {"name": "once"}, "spec": {"template": job_template}}
    )

    def pod(name: str, owner: list[dict[str, Any]] | None, *, claim: bool = False) -> None:
        spec = _template(canary, {"app": name})
        spec["metadata"].update(name=name, ownerReferences=owner or [])
        spec["spec"]["nodeName"] = node
        if claim:
            spec["spec"]["volumes"].append({"name": "data", "persistentVolumeClaim": {"claimName": "data"}})
        core.create_namespaced_pod(namespace, spec)

    pod("web-7d9f-a", _owner("ReplicaSet", "apps/v1", rs), claim=True)
    pod("web-7d9f-b", _owner("ReplicaSet", "apps/v1", rs))
    pod("db-0", _owner("StatefulSet", "apps/v1", db))
    pod("logs-x1", _owner("DaemonSet", "apps/v1", logs))
    pod("nightly-2901-q", _owner("Job", "batch/v1", nightly_job))
    pod("once-z", _owner("Job", "batch/v1", once))
    pod("solo", None)
    core.patch_namespaced_pod_status(
        "web-7d9f-a",
        namespace,
        {
            "status": {
                "phase": "Running",
                "startTime": "2026-03-01T08:00:00Z",
                "containerStatuses": [
                    {
                        "name": "app",
                        "image": IMAGE,
                        "imageID": "",
                        "ready": True,
                        "restartCount": 3,
                        "state": {"running": {"startedAt": "2026-03-01T09:00:00Z"}},
                        "lastState": {
                            "terminated": {
                                "exitCode": 137,
                                "reason": "OOMKilled",
                                "message": f"killed {canary}",
                                "startedAt": "2026-03-01T08:00:00Z",
                                "finishedAt": "2026-03-01T08:59:00Z",
                            }
                        },
                    }
                ],
            }
        },
    )

    autoscaling.create_namespaced_horizontal_pod_autoscaler(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "minReplicas": 2,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    },
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "memory",
                            "target": {"type": "Utilization", "averageUtilization": 80},
                        },
                    },
                    {
                        "type": "External",
                        "external": {
                            "metric": {"name": "queue_depth"},
                            "target": {"type": "Value", "value": "30"},
                        },
                    },
                ],
            },
        },
    )

    port = [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
    core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "front", **meta},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": port},
        },
    )
    core.create_namespaced_service(
        namespace, {"metadata": {"name": "internal"}, "spec": {"selector": {"app": "db"}, "ports": port}}
    )
    endpoints = [{"addresses": [f"10.1.0.{i}"], "conditions": {"ready": i != 3}} for i in (1, 2, 3)]
    discovery.create_namespaced_endpoint_slice(
        namespace,
        {
            "metadata": {
                "name": "front-1",
                "labels": {"kubernetes.io/service-name": "front", "team": canary},
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": [{"port": 8080, "protocol": "TCP"}],
        },
    )
    return Estate(namespace, node, volume, canary)


def remove_cluster_scoped(api: k8s.ApiClient, estate: Estate) -> None:
    core = k8s.CoreV1Api(api)
    with contextlib.suppress(k8s.ApiException):
        core.delete_node(estate.node)
    with contextlib.suppress(k8s.ApiException):
        core.delete_persistent_volume(estate.volume)

"""The agent's read-only ClusterRole: what the Kubernetes modules declare, grouped into RBAC rules.

Modules declare permissions as ``<apiGroup>/<resource>`` (``core`` for the core group). The agent
only lists and watches them, and reads ``metrics.k8s.io`` with get and list; it never reads Secrets,
ConfigMaps, logs or exec. Every scan needs the baseline (nodes, pods and namespaces, and the
ReplicaSets and Jobs that lead a pod to its Deployment or CronJob).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

ROLE_NAME = "cloudios-agent"
BASELINE = ("core/nodes", "core/pods", "core/namespaces", "apps/replicasets", "batch/jobs")
WATCH = ("list", "watch")
METRICS = ("get", "list")


def cluster_role(permissions: Iterable[str]) -> dict[str, Any]:
    """The ClusterRole document granting exactly ``permissions`` plus the baseline."""
    by_verbs: dict[tuple[str, tuple[str, ...]], set[str]] = defaultdict(set)
    for permission in {*BASELINE, *permissions}:
        group, _, resource = permission.rpartition("/")
        api_group = "" if group == "core" else group
        verbs = METRICS if api_group == "metrics.k8s.io" else WATCH
        by_verbs[(api_group, verbs)].add(resource)
    rules = [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
        for (group, verbs), resources in sorted(by_verbs.items())
    ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": ROLE_NAME,
            "annotations": {
                "cloudios.io/description": "Read-only access the Cloudios agent needs for the selected "
                "modules: list and watch the objects they read, get pod metrics; no Secrets, "
                "ConfigMaps, logs or exec."
            },
        },
        "rules": rules,
    }

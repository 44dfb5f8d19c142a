"""Kubernetes resource kinds and the attribute keys the Kubernetes provider fills (modules rely on them).

Ids: nodes and PersistentVolumes by name; namespaced objects ``namespace/name``; workloads
``namespace/Kind/name``; containers ``namespace/Kind/name/container``. Namespaced resources carry
the cluster's region (the region most of its nodes are in, ``unknown`` without one); nodes their own.
Quantities are integers: CPU in millicores, memory and storage in bytes. Times are ISO 8601 UTC.
"""

from __future__ import annotations

K8S_CLUSTER = "k8s.cluster"
"""id: the cluster name; attributes: cloud (aws|gcp|azure or None), firstReportAt, receivedAt
(the agent's latest report), nodes (count)."""
K8S_NODE = "k8s.node"
"""attributes: cloud (aws|gcp|azure, from the providerID; None when unrecognised), providerId,
instanceType, zone, capacityType (on-demand|spot or None), arch, cpuCapacityM,
memoryCapacityBytes, cpuAllocatableM, memoryAllocatableBytes, unschedulable (bool), createdAt."""
K8S_WORKLOAD = "k8s.workload"
"""attributes: namespace, workloadKind (Deployment|StatefulSet|DaemonSet|Job|CronJob|ReplicaSet),
workloadName, replicas (desired, or None), hpa ({minReplicas, maxReplicas, metrics: [cpu|memory|
other]} or None), idleSince (zero replicas or no running pod since then, or None), runningPods."""
K8S_POD = "k8s.pod"
"""attributes: namespace, workload (the workload id; ``namespace/Pod/name`` for bare pods),
workloadKind, node (or None), phase, startedAt, claims (claim names in the namespace), containers
([{name, requests: {cpuM, memoryBytes}, limits: {cpuM, memoryBytes}, restarts, lastOomKilledAt}];
absent quantities are None)."""
K8S_CONTAINER = "k8s.container"
"""One container of a workload's pod template with its usage over the window. attributes:
workload (id), namespace, workloadKind, workloadName, container, requests and limits ({cpuM,
memoryBytes} of the newest running pod), restarts (summed over the pods), lastOomKilledAt (latest
over the pods, or None), cpu and memory (window statistics from the merged sketches: {samples,
avg, max, p50, p90, p95, p99}; None without usage), hoursWithData, windowHours, runningShare
(hoursWithData / windowHours), firstUsageAt, lastUsageAt. Metrics: cpu_millicores and
memory_working_set_bytes per UTC day."""
K8S_CLAIM = "k8s.pvc"
"""A PersistentVolumeClaim. attributes: namespace, phase, storageClass, requestedBytes, volume
(the bound PV's name), capacityBytes, csiDriver, cloud and diskType (resolved from the CSI driver
and storage class, else None), mountedBy (pod names), unmountedSince (or None), createdAt."""
K8S_VOLUME = "k8s.pv"
"""A PersistentVolume. attributes: phase (Available|Bound|Released|Failed|...), capacityBytes,
storageClass, claim (``namespace/name``), csiDriver, cloud, diskType, createdAt."""
K8S_LOAD_BALANCER = "k8s.service"
"""A Service of type LoadBalancer. attributes: namespace, readyEndpoints, unreadySince (no ready
endpoint since then, or None), cloud (the cluster's), createdAt."""

KINDS = frozenset(
    {K8S_CLUSTER, K8S_NODE, K8S_WORKLOAD, K8S_POD, K8S_CONTAINER, K8S_CLAIM, K8S_VOLUME, K8S_LOAD_BALANCER}
)
UNKNOWN_REGION = "unknown"

# Usage SKUs the Kubernetes price book prices (pricing/kubernetes) - the clouds' books underneath.
NODE = "k8s.node"
"""{cloud, instanceType, capacityType}: 1 per node (hourly x 730)."""
NODE_CPU = "k8s.node.cpu"
"""{cloud, instanceType, capacityType, nodeCpuM, nodeMemoryBytes}: cores held, averaged over the
month (requests x pods x running share); the node's hourly price split by OpenCost's ratio."""
NODE_MEMORY = "k8s.node.memory"
"""The same attributes: GiB held, averaged over the month."""
DISK = "k8s.disk"
"""{cloud, diskType}: GiB-month of a persistent volume (csiDriver and storageClass kept for the
reason when the disk type is unknown)."""
LOAD_BALANCER = "k8s.loadbalancer"
"""{cloud}: 1 per LoadBalancer Service (hourly x 730)."""
INCREASE = "k8s.increase"
"""{detail}: a request increase (under-provisioned); never priced: it adds cost and saves nothing."""

"""Agent reports for tests and benchmarks: small hand-made ones and generated clusters of any size."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime, timedelta

from cloudios_agent import wire
from cloudios_agent.sketch import Sketch

T0 = datetime(2026, 11, 30, 12, tzinfo=UTC)


def summary(values: list[float]) -> wire.Summary:
    return wire.Summary.of(Sketch.of(values))


def usage(
    namespace: str = "shop",
    name: str = "web",
    container: str = "app",
    *,
    start: datetime = T0,
    period: str = "hour",
    cpu: list[float] | None = None,
    memory: list[float] | None = None,
    kind: str = "Deployment",
    source: str = "metrics-api",
) -> wire.ContainerUsage:
    return wire.ContainerUsage(
        namespace, kind, name, container, period, start, source,
        summary(cpu or [100.0, 120.0, 900.0]), summary(memory or [2.0**28, 2.0**29]),
    )  # fmt: skip


def inventory(
    *,
    taken_at: datetime = T0,
    mounted: bool = True,
    ready_endpoints: int = 0,
    replicas: int = 3,
) -> wire.Inventory:
    """One node, a web Deployment with one pod mounting claim 'data' (or not), a LoadBalancer."""
    pod = wire.Pod(
        "shop", "web-1", "Deployment", "web", "Running",
        (wire.Container("app", wire.Resources(500, 2**30), wire.Resources(None, 2**31)),),
        "n1", taken_at, ("data",) if mounted else (),
    )  # fmt: skip
    return wire.Inventory(
        taken_at=taken_at,
        nodes=(wire.Node("n1", T0, wire.Resources(4000, 16 * 2**30), wire.Resources(3900, 15 * 2**30),
                         "m5.xlarge", "eu-west-3", "eu-west-3a", "aws:///eu-west-3a/i-0abc"),),
        workloads=(wire.Workload("shop", "Deployment", "web", T0, replicas),
                   wire.Workload("shop", "Deployment", "old", T0, 0)),
        pods=(pod,) if replicas else (),
        claims=(wire.Claim("shop", "data", "Bound", T0, 10 * 2**30, "gp3", "pv-1"),),
        volumes=(wire.Volume("pv-1", "Bound", T0, 10 * 2**30, "gp3", "shop/data", "ebs.csi.aws.com",
                             "vol-0abc"),),
        load_balancers=(wire.LoadBalancer("shop", "front", T0, ready_endpoints),),
        namespaces=(wire.Namespace("shop", T0),),
    )  # fmt: skip


def report(
    sequence: int = 1,
    *,
    stream: str = "ab12",
    inventory: wire.Inventory | None = None,
    usage: tuple[wire.ContainerUsage, ...] = (),
    sent_at: datetime = T0,
) -> wire.Report:
    return wire.Report(stream, sequence, sent_at, "0.1.0", inventory, usage)


def body(rep: wire.Report) -> bytes:
    """What the agent POSTs: the report's JSON, gzipped."""
    return gzip.compress(wire.encode_report(rep), compresslevel=6)


def cluster_report(
    pods: int, *, sequence: int = 1, stream: str = "c0ffee", seed: int = 0, now: datetime = T0
) -> wire.Report:
    """A cluster of ``pods`` pods (10 per workload, 50 per node), its inventory and one hour of usage
    for every workload's container: the shape a real agent sends every flush."""
    rnd = random.Random(seed)
    nodes = tuple(
        wire.Node(f"node-{i}", now - timedelta(days=30), wire.Resources(8000, 32 * 2**30),
                  wire.Resources(7800, 31 * 2**30), "m5.2xlarge", "eu-west-3", f"eu-west-3{'abc'[i % 3]}",
                  f"aws:///eu-west-3{'abc'[i % 3]}/i-{i:017x}", "on-demand", "amd64")
        for i in range(max(1, pods // 50))
    )  # fmt: skip
    workloads, pod_list, usage_rows = [], [], []
    for w in range(max(1, pods // 10)):
        namespace, name = f"ns-{w % 40}", f"app-{w}"
        workloads.append(wire.Workload(namespace, "Deployment", name, now - timedelta(days=60), 10))
        for p in range(10):
            container = wire.Container(
                "main", wire.Resources(250, 512 * 2**20), wire.Resources(1000, 2**30), rnd.randint(0, 3)
            )
            pod_list.append(
                wire.Pod(namespace, f"{name}-{p:05d}", "Deployment", name, "Running", (container,),
                         nodes[(w * 10 + p) % len(nodes)].name, now - timedelta(hours=5))
            )  # fmt: skip
        cpu = [rnd.uniform(20, 400) for _ in range(120)]
        memory = [rnd.uniform(100, 400) * 2**20 for _ in range(120)]
        usage_rows.append(
            usage(namespace, name, "main", start=now - timedelta(hours=1), cpu=cpu, memory=memory)
        )
    inv = wire.Inventory(
        taken_at=now,
        nodes=nodes,
        workloads=tuple(workloads),
        pods=tuple(pod_list),
        namespaces=tuple(wire.Namespace(f"ns-{i}", now - timedelta(days=90)) for i in range(40)),
    )
    return wire.Report(stream, sequence, now, "0.1.0", inv, tuple(usage_rows))

"""Benchmark: the agent's footprint on a 5,000-pod cluster, beside a list-everything baseline.

    .venv/bin/python -m bench.agent [--pods 5000 --nodes 500 --workloads 1000 --cycle-seconds 30 --cycles 5]

Starts the test control plane (kube-apiserver + etcd), fills it through the API (bench/agent_estate.py),
and starts the metrics.k8s.io TEST FRONT PROXY (tests/support/metrics_proxy.py) serving usage for
every pod, plus a TLS ingest stand-in. Then, one after the other on the same estate, as the same
ServiceAccount (the rules of rbac.json) through the same proxy:
- the agent, `python -m cloudios_agent.main`, sampling every cycle and (worst case) sending a full
  inventory every cycle;
- the baseline, a process that each cycle lists every kind the agent watches plus metrics.k8s.io
  through the official `kubernetes` client (models deserialized) and keeps the lists until the next.
Each is measured from outside through /proc: CPU seconds per cycle over `--cycles` steady cycles
after one warm-up cycle, RSS sampled every second (median and max), VmHWM (peak including start-up).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from bench.agent_estate import Poster, build
from tests.support.agent_identity import create_agent_identity, write_kubeconfig
from tests.support.controlplane import free_port, start_control_plane
from tests.support.ingest_standin import IngestStandIn
from tests.support.metrics_proxy import ContainerUsage, MetricsProxy, PodUsage

from cloudios_agent import wire
from cloudios_agent.usage import UsageAggregator, parse_pod_metrics

MIB = 1024 * 1024
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_mib(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(pid: int, cycles: Callable[[], int], n: int, timeout: float) -> dict[str, float]:
    """CPU per cycle and RSS over ``n`` cycles of a running process, read from /proc."""
    c0, cpu0, rss = cycles(), cpu_seconds(pid), []
    deadline = time.monotonic() + timeout
    while cycles() < c0 + n and time.monotonic() < deadline:
        rss.append(status_mib(pid, "VmRSS"))
        time.sleep(1.0)
    done = cycles() - c0
    return {
        "cycles": done,
        "cpu_s_per_cycle": round((cpu_seconds(pid) - cpu0) / max(done, 1), 3),
        "rss_mib_median": round(statistics.median(rss), 1),
        "rss_mib_max": round(max(rss), 1),
        "peak_rss_mib": round(status_mib(pid, "VmHWM"), 1),
    }


def metrics_source(pods: list[tuple[str, str]]) -> Callable[[], list[PodUsage]]:
    import random  # noqa: PLC0415

    rng = random.Random(3)
    base = {p: (rng.uniform(5, 400), rng.uniform(40, 600)) for p in pods}

    def source() -> list[PodUsage]:
        return [
            PodUsage(
                ns,
                name,
                (
                    ContainerUsage(
                        "app",
                        f"{int(cpu * rng.uniform(0.5, 1.5) * 1e6)}n",
                        f"{int(mem * rng.uniform(0.9, 1.1) * 1024)}Ki",
                    ),
                ),
            )
            for (ns, name), (cpu, mem) in base.items()
        ]

    return source


def run_agent(
    args: argparse.Namespace, kubeconfig: Path, ingest: IngestStandIn, work: Path, pods: int
) -> dict[str, Any]:
    token = work / "ingest-token"
    token.write_text(ingest.token)
    health = free_port()
    env = {
        **os.environ,
        "CLOUDIOS_AGENT_INGEST_URL": ingest.url,
        "CLOUDIOS_AGENT_TOKEN_FILE": str(token),
        "CLOUDIOS_AGENT_CA_FILE": str(ingest.ca_file),
        "CLOUDIOS_AGENT_KUBECONFIG": str(kubeconfig),
        "CLOUDIOS_AGENT_SAMPLE_SECONDS": str(args.cycle_seconds),
        "CLOUDIOS_AGENT_INVENTORY_SECONDS": str(args.inventory_seconds or args.cycle_seconds),
        "CLOUDIOS_AGENT_HEALTH_PORT": str(health),
        "CLOUDIOS_AGENT_HEALTH_HOST": "127.0.0.1",
    }
    started = time.monotonic()
    log = (work / "agent.log").open("wb")
    agent = subprocess.Popen([sys.executable, "-m", "cloudios_agent.main"], env=env, stdout=log, stderr=log)

    def scrape() -> dict[str, float]:
        try:
            text = httpx.get(f"http://127.0.0.1:{health}/metrics", timeout=5).text
        except httpx.HTTPError:
            return {}
        return {ln.split(" ")[0]: float(ln.split(" ")[1]) for ln in text.splitlines() if ln and ln[0] != "#"}

    try:
        while not any(len(r.report().get("inventory", {}).get("pods", [])) >= pods for r in ingest.received):
            if agent.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError(
                    f"agent produced no full inventory: {(work / 'agent.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        first_inventory_s = time.monotonic() - started

        def cycles() -> int:
            return int(scrape().get("cloudios_agent_cycles_total", 0))

        warm = cycles()
        while cycles() < warm + 1:
            time.sleep(0.5)
        before = len(ingest.received)
        result = measure(agent.pid, cycles, args.cycles, timeout=args.cycles * args.cycle_seconds * 4 + 120)
        flushes = ingest.received[before:]
        sizes = [len(r.body) for r in flushes]
        final = scrape()
    finally:
        agent.terminate()
        agent.wait(30)
        log.close()
    return {
        **result,
        "first_inventory_s": round(first_inventory_s, 1),
        "flushes": len(sizes),
        "bytes_per_flush_gzip": int(statistics.mean(sizes)) if sizes else 0,
        "bytes_per_flush_json": len(flushes[-1].text().encode()) if flushes else 0,
        "samples_per_cycle": round(
            final.get("cloudios_agent_samples_total", 0) / max(final.get("cloudios_agent_cycles_total", 1), 1)
        ),
        "batches_dropped": final.get("cloudios_agent_batches_dropped_total", 0),
    }


def run_baseline(args: argparse.Namespace, kubeconfig: Path) -> dict[str, Any]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.agent",
            "--baseline-child",
            str(kubeconfig),
            "--cycle-seconds",
            str(args.cycle_seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    done: list[dict[str, Any]] = []

    def read() -> None:
        assert child.stdout is not None
        done.extend(json.loads(line) for line in child.stdout)

    threading.Thread(target=read, daemon=True).start()
    try:
        while len(done) < 2:
            if child.poll() is not None:
                raise RuntimeError("baseline exited")
            time.sleep(0.5)
        result = measure(
            child.pid, lambda: len(done), args.cycles, timeout=args.cycles * args.cycle_seconds * 10 + 300
        )
    finally:
        child.terminate()
        child.wait(30)
    return {
        **result,
        "wall_s_per_list_cycle": round(statistics.mean(d["wall_s"] for d in done[1:]), 2),
        "objects_per_cycle": done[-1]["objects"],
    }


def baseline_child(kubeconfig: str, cycle_seconds: float) -> None:
    """Each cycle: list every kind the agent watches, and pod metrics, through the official client."""
    from kubernetes import client, config  # noqa: PLC0415

    config.load_kube_config(config_file=kubeconfig)
    api = client.ApiClient()
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    hpa, disc, custom = client.AutoscalingV2Api(api), client.DiscoveryV1Api(api), client.CustomObjectsApi(api)
    calls = [
        core.list_pod_for_all_namespaces,
        core.list_node,
        core.list_namespace,
        core.list_persistent_volume,
        core.list_persistent_volume_claim_for_all_namespaces,
        core.list_service_for_all_namespaces,
        apps.list_deployment_for_all_namespaces,
        apps.list_stateful_set_for_all_namespaces,
        apps.list_daemon_set_for_all_namespaces,
        apps.list_replica_set_for_all_namespaces,
        batch.list_job_for_all_namespaces,
        batch.list_cron_job_for_all_namespaces,
        hpa.list_horizontal_pod_autoscaler_for_all_namespaces,
        disc.list_endpoint_slice_for_all_namespaces,
    ]
    held: list[Any] = []
    cycle = 0
    next_at = time.monotonic()
    while True:
        start = time.monotonic()
        held = []  # the previous cycle's lists are dropped only now, as a naive agent would
        held = [call() for call in calls]
        held.append(custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "pods"))
        objects = sum(len(x.items) for x in held[:-1]) + len(held[-1]["items"])
        cycle += 1
        print(
            json.dumps({"cycle": cycle, "wall_s": time.monotonic() - start, "objects": objects}), flush=True
        )
        next_at = max(next_at + cycle_seconds, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))


def usage_flush_bytes(source: Callable[[], list[PodUsage]]) -> dict[str, int]:
    """The hourly usage flush for this estate, made by the agent's own aggregator from 120 samples."""
    agg = UsageAggregator()
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    for i in range(121):
        doc = {
            "items": [
                {
                    "metadata": {"namespace": p.namespace, "name": p.name},
                    "timestamp": str(i),
                    "containers": [
                        {"name": c.name, "usage": {"cpu": c.cpu, "memory": c.memory}} for c in p.containers
                    ],
                }
                for p in source()
            ]
        }
        agg.add(
            parse_pod_metrics(doc),
            start + timedelta(seconds=30 * i),
            lambda _ns, pod: ("Deployment", pod.rsplit("-", 1)[0]),
        )
    usage = tuple(agg.take_closed())
    body = wire.encode_report(wire.Report("ab", 1, start, "bench", usage=usage))
    return {"summaries": len(usage), "json": len(body), "gzip": len(gzip.compress(body, 6))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=5000)
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--workloads", type=int, default=1000)
    parser.add_argument("--cycle-seconds", type=float, default=30.0)
    parser.add_argument(
        "--inventory-seconds", type=float, default=0.0, help="default: every cycle (worst case)"
    )
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--baseline-child", metavar="KUBECONFIG")
    args = parser.parse_args()
    if args.baseline_child:
        baseline_child(args.baseline_child, args.cycle_seconds)
        return 0
    work = Path(tempfile.mkdtemp(prefix="cloudios-bench-agent-"))
    plane = start_control_plane(work / "controlplane")
    proxy = ingest = None
    try:
        assert plane.ca_path is not None
        admin = ssl.create_default_context(cafile=str(plane.ca_path))
        pki = plane.workdir / "pki"  # the administrator's client certificate (system:masters)
        admin.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
        poster = Poster(plane.server_url, admin)
        t0 = time.monotonic()
        estate = build(poster, pods=args.pods, nodes=args.nodes, workloads=args.workloads)
        created_s = time.monotonic() - t0
        print(
            f"estate: {estate.objects} API writes in {created_s:.0f}s, {len(estate.pods)} pods",
            file=sys.stderr,
        )
        identity = create_agent_identity(plane.api_client())
        source = metrics_source(estate.pods)
        assert plane.ca_path is not None
        proxy = MetricsProxy(plane.server_url, plane.ca_path, source, work / "proxy").start()
        kubeconfig = write_kubeconfig(work / "kubeconfig.json", proxy.url, proxy.ca_file, identity.token)
        ingest = IngestStandIn(work / "ingest", "ccat_bench_" + "x" * 40).start()
        results: dict[str, Any] = {
            "pods": len(estate.pods),
            "nodes": args.nodes,
            "workloads": args.workloads,
            "api_writes": estate.objects,
            "cycle_seconds": args.cycle_seconds,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        }
        results["agent"] = run_agent(args, kubeconfig, ingest, work, len(estate.pods))
        print(json.dumps(results["agent"]), file=sys.stderr)
        if not args.skip_baseline:
            results["baseline"] = run_baseline(args, kubeconfig)
            print(json.dumps(results["baseline"]), file=sys.stderr)
        results["usage_flush_hourly"] = usage_flush_bytes(source)
        print(json.dumps(results, indent=2))
    finally:
        for part in (proxy, ingest):
            if part is not None:
                part.stop()
        plane.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

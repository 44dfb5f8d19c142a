"""Benchmark: the agent's history backfill vs KRR's `simple` strategy on the same Prometheus.

    .venv/bin/python -m bench.agent_history --krr-src DIR --krr-python PY [--workloads 200] [--days 90]

Writes `--days` of synthetic cAdvisor series for `--workloads` single-pod Deployments (one
container each, CPU with daily peaks and minute-level jitter, memory with a one-hour monthly peak
in a fifth of them, older than KRR's 14-day default window) as promtool blocks (cached), then, each
against a freshly started Debian Prometheus on those blocks:

(a) `cloudios_agent.history.Backfill` with its defaults (90 days, 1-hour step, concurrency 2);
(b) KRR (robusta-dev/krr, run from a source checkout `--krr-src` with its requirements from PyPI in
    the interpreter `--krr-python`) with `simple` at its defaults except `--timeframe_duration`
    (see `--krr-timeframe`): it discovers the Deployments and their Pods on a real kube-apiserver
    (tests.support.controlplane) that holds them as objects, and queries Prometheus per container.

Reports queries received by Prometheus (its own prometheus_http_requests_total), its peak RSS
(VmHWM of the process, which starts fresh for each tool) and wall time, and both tools' requests
side by side: CPU p95 and memory max x 1.15 from our rows vs KRR's, and how many memory
recommendations fall below the peak each workload actually reached in the window.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from tests.support.controlplane import start_control_plane  # noqa: E402
from tests.support.prometheus import DAY, HOUR, MIB, Container, build_blocks, serve  # noqa: E402

from cloudios_agent.history import Backfill, BackfillSettings  # noqa: E402
from cloudios_agent.history_query import PrometheusClient, PrometheusSource  # noqa: E402
from cloudios_agent.sketch import Sketch  # noqa: E402
from cloudios_agent.wire import ContainerUsage  # noqa: E402

HASH, SUFFIX = "7d9f8b6c5d", "xk2lp"
DATA_VERSION = 1


def dataset(workloads: int, namespaces: int, end: int) -> list[Container]:
    rng = random.Random(42)
    out = []
    for i in range(workloads):
        base_cpu, base_mem = rng.uniform(50, 500), rng.uniform(100, 1000) * MIB
        peak_hours = range(rng.randrange(24), 24) if i % 3 == 0 else range(0)
        spikes = {}
        if i % 5 == 0:  # a monthly job: one hour at 2.5x memory, 20-50 days ago
            spikes[end // HOUR * HOUR - rng.randrange(20, 50) * DAY - rng.randrange(24) * HOUR] = (
                2.5 * base_mem
            )
        out.append(
            Container(
                f"team-{i % namespaces:02}", f"svc-{i:03}-{HASH}-{SUFFIX}", "app",
                cpu_m=lambda h, b=base_cpu, p=peak_hours: b * (3 if (h % DAY) // HOUR in p else 1),
                memory=lambda h, b=base_mem: b * (1.1 if (h // DAY) % 7 < 5 else 1.0),
                memory_spikes=spikes, cpu_jitter=0.3,
            )
        )  # fmt: skip
    return out


def blocks(args: argparse.Namespace) -> tuple[Path, list[Container], int]:
    """Cached blocks for the run's parameters (rebuilt when older than 6 hours: KRR reads up to now)."""
    key = f"v{DATA_VERSION}-w{args.workloads}-n{args.namespaces}-d{args.days}-i{args.interval}"
    root = Path(args.cache_dir) / key
    meta = root / "meta.json"
    now = int(time.time())
    if meta.is_file() and now - json.loads(meta.read_text())["end"] < 6 * HOUR:
        end = json.loads(meta.read_text())["end"]
        return root / "data", dataset(args.workloads, args.namespaces, end), end
    end = now // HOUR * HOUR
    start = end - args.days * DAY
    containers = dataset(args.workloads, args.namespaces, end)
    if root.exists():
        subprocess.run(["rm", "-rf", str(root)], check=True)
    t0 = time.monotonic()
    samples = build_blocks(containers, start, end, root / "data", interval=args.interval)
    meta.write_text(json.dumps({"end": end, "samples": samples, "build_seconds": time.monotonic() - t0}))
    print(f"built {samples:,} samples in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return root / "data", containers, end


def prometheus_requests(url: str) -> int:
    import httpx  # noqa: PLC0415

    text = httpx.get(f"{url}/metrics", timeout=10).text
    pattern = re.compile(
        r'^prometheus_http_requests_total\{code="\d+",handler="(/api/v1/[^"]+)"\} (\S+)$', re.MULTILINE
    )
    return int(
        sum(float(v) for handler, v in pattern.findall(text) if "query" in handler or "label" in handler)
    )


def run_ours(
    data: Path, containers: list[Container], end: int, work: Path, settings: BackfillSettings
) -> dict[str, Any]:
    owners = {(c.namespace, c.pod): ("Deployment", c.pod.rsplit("-", 2)[0]) for c in containers}
    rows: list[ContainerUsage] = []
    with serve(data, work / "ours", tls=False) as prom:
        rss_start = prom.rss_mib()
        client = PrometheusClient(PrometheusSource(prom.url, timeout_seconds=600))
        runner = Backfill(client, settings, owner=lambda ns, pod: owners.get((ns, pod)), clock=lambda: end)
        pod_counts: dict[str, int] = {}
        for c in containers:
            pod_counts[c.namespace] = pod_counts.get(c.namespace, 0) + 1
        t0 = time.monotonic()
        result = runner.run(rows.extend, namespaces=sorted(pod_counts), pod_counts=pod_counts)
        wall = time.monotonic() - t0
        received = prometheus_requests(prom.url)
        peak = prom.peak_rss_mib()
    assert result.complete, result.failures
    cpu: dict[str, Sketch] = {}
    mem: dict[str, Sketch] = {}
    for row in rows:
        if row.period == "day":
            cpu.setdefault(row.workload_name, Sketch()).merge(row.cpu.sketch)
            mem.setdefault(row.workload_name, Sketch()).merge(row.memory.sketch)
    recs = {w: (cpu[w].quantile(0.95) or 0.0, mem[w].max * 1.15) for w in cpu}
    return {"queries_sent": result.queries_sent, "prometheus_requests": received, "wall_seconds": wall,
            "prometheus_rss_start_mib": rss_start, "prometheus_peak_rss_mib": peak, "rows": result.rows,
            "recommendations": recs}  # fmt: skip


def cluster_objects(containers: list[Container]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        for ns in sorted({c.namespace for c in containers})
    ]
    for c in containers:
        name = c.pod.rsplit("-", 2)[0]
        labels = {"app": name}
        spec = {"containers": [{"name": c.container, "image": "example/app:1",
                                "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}]}  # fmt: skip
        meta = {"name": name, "namespace": c.namespace}
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
                     "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                              "template": {"metadata": {"labels": labels}, "spec": spec}}})  # fmt: skip
        docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": c.pod, "namespace": c.namespace,
                     "labels": {**labels, "pod-template-hash": HASH}}, "spec": spec})  # fmt: skip
    return docs


def run_krr(data: Path, containers: list[Container], args: argparse.Namespace, work: Path) -> dict[str, Any]:
    plane = start_control_plane(work / "controlplane")
    try:
        plane.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(cluster_objects(containers)), timeout=600)
        with serve(data, work / "krr", tls=False) as prom:
            rss_start = prom.rss_mib()
            out = work / "krr.json"
            command = [
                args.krr_python, str(Path(args.krr_src) / "krr.py"), "simple", "--prometheus-url", prom.url,
                "--kubeconfig", str(plane.kubeconfig_path), "--formatter", "json", "--fileoutput", str(out),
                "--timeframe_duration", str(args.krr_timeframe),
                "--history_duration", str(args.krr_history_hours), "--logtostderr", "--quiet",
            ]  # fmt: skip
            t0 = time.monotonic()
            done = subprocess.run(command, capture_output=True, text=True, timeout=7200, check=False)
            wall = time.monotonic() - t0
            received = prometheus_requests(prom.url)
            peak = prom.peak_rss_mib()
        if done.returncode != 0:
            raise RuntimeError(f"krr exited {done.returncode}: {done.stderr[-3000:]}")
    finally:
        plane.stop()
    recs = {}
    for scan in json.loads(out.read_text())["scans"]:
        req = scan["recommended"]["requests"]
        cpu, memory = req["cpu"]["value"], req["memory"]["value"]
        recs[scan["object"]["name"]] = (
            float(cpu) * 1000 if isinstance(cpu, (int, float)) else None,
            float(memory) if isinstance(memory, (int, float)) else None,
        )
    return {"command": " ".join(command[1:]), "prometheus_requests": received, "wall_seconds": wall,
            "prometheus_rss_start_mib": rss_start, "prometheus_peak_rss_mib": peak,
            "recommendations": recs}  # fmt: skip


def truth(containers: list[Container], start: int, end: int) -> dict[str, float]:
    """Each workload's highest working set in the window (what a memory request must cover)."""
    peaks = {}
    for c in containers:
        hourly = [c.memory_spikes.get(h, c.memory(h)) for h in range(start, end, HOUR)]
        peaks[c.pod.rsplit("-", 2)[0]] = max(hourly)
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workloads", type=int, default=200)
    parser.add_argument("--namespaces", type=int, default=10)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--interval", type=int, default=60, help="scrape interval of the synthetic data, s")
    parser.add_argument("--cache-dir", default=str(ROOT / ".cache" / "bench-agent-history"))
    parser.add_argument("--krr-src", required=True, help="a checkout of robusta-dev/krr")
    parser.add_argument("--krr-python", required=True, help="python with KRR's requirements.txt installed")
    parser.add_argument("--krr-timeframe", type=float, default=2.0, help="KRR --timeframe_duration, minutes")
    parser.add_argument(
        "--krr-history-hours", type=int, default=336, help="KRR --history_duration (default 14 d)"
    )
    parser.add_argument("--pods-per-batch", type=int, default=BackfillSettings.pods_per_batch)
    parser.add_argument("--chunk-days", type=int, default=BackfillSettings.chunk_days)
    args = parser.parse_args()
    settings = BackfillSettings(pods_per_batch=args.pods_per_batch, chunk_days=args.chunk_days)
    data, containers, end = blocks(args)
    with tempfile.TemporaryDirectory(prefix="cloudios-bench-history-") as tmp:
        work = Path(tmp)
        ours = run_ours(data, containers, end, work, settings)
        krr = run_krr(data, containers, args, work)
    peaks = truth(containers, end - args.days * DAY, end)
    below = {name: sum(1 for w, (_, m) in r["recommendations"].items() if m is not None and m < peaks[w])
             for name, r in (("ours", ours), ("krr", krr))}  # fmt: skip
    none = (None, None)
    side = [(w, *ours["recommendations"].get(w, none), *krr["recommendations"].get(w, none), peaks[w])
            for w in sorted(peaks)]  # fmt: skip
    report = {
        "workloads": args.workloads, "days": args.days, "interval": args.interval,
        "settings": {"pods_per_batch": settings.pods_per_batch, "chunk_days": settings.chunk_days},
        "ours": {k: v for k, v in ours.items() if k != "recommendations"},
        "krr": {k: v for k, v in krr.items() if k != "recommendations"},
        "memory_below_observed_peak": below,
        "side_by_side": side[:10],
    }  # fmt: skip
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()

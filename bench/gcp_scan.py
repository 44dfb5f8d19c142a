"""Benchmark: Cloud Monitoring calls, wall time and peak RSS of a GCP scan, against a baseline.

    .venv/bin/python bench/gcp_scan.py [--instances 1000] [--days 90]

The GCP emulator (in this process) holds one project with ``--instances`` VMs and as many disks
(each VM's boot disk), and ``--days`` days of CPU and network series per VM. Two approaches run,
each in its own subprocess so its peak RSS (``VmHWM``) is its own:

* cloudios: ``cloudios.providers.gcp.collect.collect`` for gcp.compute.idle, gcp.compute.rightsize
  and gcp.disk.unattached: aggregated lists plus one ListTimeSeries per (metric type, aligner)
  for the whole project, aligned to one point per day on the server.
* baseline: what Cloud Custodian's gcp ``metrics`` filter does: one ListTimeSeries per resource
  (filter on ``resource.labels.instance_id``) and metric, here per (metric, aligner) so both read
  the same data. It keeps what it read until the end, as Cloudios keeps its daily statistics.

Wall times are emulator times (gRPC over loopback TLS on the same CPUs), not Google latencies;
the call counts are what would be sent to Google.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("/bench"):
    # Started as `python bench/gcp_scan.py`: bench/operator.py would shadow the stdlib `operator`.
    sys.path.pop(0)

import argparse
import json
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "bench-project-1"


def estate(instances: int, days: int) -> Any:
    from cloudios.emulators.gcp.estate import Estate  # noqa: PLC0415

    resources: list[dict[str, Any]] = []
    for i in range(instances):
        region = ("europe-west1", "us-central1")[i % 2]
        zone = f"{region}-b"
        level = (0.01, 0.08, 0.5)[i % 3]
        resources.append(
            {
                "kind": "gce.instance",
                "id": str(10_000 + i),
                "name": f"vm-{i}",
                "region": region,
                "attributes": {"zone": zone, "machineType": "n2-standard-8", "status": "RUNNING"},
                "metrics": {
                    "cpu_utilization": {"pattern": "steady", "level": level, "peak": min(1.0, level * 3)},
                    "network_in_bytes": {"pattern": "steady", "level": 1e6 if level < 0.05 else 1e9},
                    "network_out_bytes": {"pattern": "steady", "level": 1e6 if level < 0.05 else 1e9},
                },
            }
        )
        resources.append(
            {
                "kind": "gce.disk",
                "id": str(20_000 + i),
                "name": f"vm-{i}-boot",
                "region": region,
                "attributes": {
                    "zone": zone,
                    "diskType": "pd-balanced",
                    "sizeGb": 50,
                    "users": [] if i % 10 == 0 else [f"vm-{i}"],
                },
            }
        )
    return Estate.model_validate(
        {"provider": "gcp", "account": PROJECT, "lookbackDays": days, "resources": resources}
    )


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(mode: str, days: int) -> dict[str, Any]:
    """Run one approach against the emulator named by the environment; print its numbers."""
    from cloudios.api.cloudaccount import CloudAccountSpec  # noqa: PLC0415
    from cloudios.modules import registry  # noqa: PLC0415
    from cloudios.providers.base import CollectRequest  # noqa: PLC0415
    from cloudios.providers.gcp import collect, metrics  # noqa: PLC0415
    from cloudios.providers.gcp.credentials import GcpKeyCredentials  # noqa: PLC0415

    info = json.loads(os.environ["BENCH_GCP_KEY"])
    creds = GcpKeyCredentials(client_email=info["client_email"], info=info)
    modules = [registry.get(n) for n in ("gcp.compute.idle", "gcp.compute.rightsize", "gcp.disk.unattached")]
    request = CollectRequest(
        tenant="bench",
        account_name=PROJECT,
        account=CloudAccountSpec.model_validate({"provider": "gcp", "gcp": {"projectId": PROJECT}}),
        lookback_days=days,
        kinds=frozenset(k for m in modules for k in m.spec.resource_kinds),
        metrics=tuple(dict.fromkeys(x for m in modules for x in m.spec.metrics)),
        end=datetime.now(UTC),
        credentials=creds,
        max_concurrency=8,
    )
    started = time.perf_counter()
    if mode == "cloudios":
        result = collect.collect(request)
        calls = result.api_calls["monitoring.ListTimeSeries"]
        findings = sum(len(m.run(result.snapshot)) for m in modules)
        kept = len(result.snapshot.metrics)
    else:
        result = collect.collect(CollectRequest(**{**request.__dict__, "metrics": ()}))  # inventory only
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

        from cloudios.providers.gcp.auth import open_project_session  # noqa: PLC0415
        from cloudios.providers.gcp.calls import CallCounter  # noqa: PLC0415
        from cloudios.providers.gcp.settings import GcpEndpoints, GcpTuning  # noqa: PLC0415

        counter = CallCounter()
        session = open_project_session(
            gcp=request.account.gcp,
            key=creds,
            endpoints=GcpEndpoints.from_environment(),  # type: ignore[arg-type]
            tuning=GcpTuning(),
            counter=counter,
        )
        client = session.monitoring()
        start, end = metrics.window(request.end, days)
        vms = [r for r in result.snapshot.resources if r.kind == "gce.instance"]
        needs = {"gce.instance": [n.metric for n in request.metrics if n.kind == "gce.instance"]}
        queries = metrics.plan(vms, needs)
        kept_points: list[Any] = []

        def one(vm_query: tuple[Any, Any]) -> list[Any]:
            vm, query = vm_query
            req = query.request(PROJECT, start, end, 100_000)
            req.filter += f' AND resource.labels.instance_id = "{vm.id}"'
            pager = client.list_time_series(request=req)
            out = []
            for page in pager.pages:
                counter.add("monitoring.ListTimeSeries")
                out.extend(page.time_series)
            return out

        with ThreadPoolExecutor(max_workers=8) as pool:
            for series in pool.map(one, [(vm, q) for vm in vms for q in queries]):
                kept_points.extend(series)
        calls = counter.calls("monitoring.ListTimeSeries")
        findings = None
        kept = len(kept_points)
    wall = time.perf_counter() - started
    return {
        "mode": mode,
        "calls": calls,
        "seconds": round(wall, 2),
        "peakRssMiB": round(peak_rss_mib(), 1),
        "findings": findings,
        "kept": kept,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--child", choices=("cloudios", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.days)))
        return
    from cloudios.emulators.gcp import server  # noqa: PLC0415

    seeded = time.perf_counter()
    emulator = server.start([estate(args.instances, args.days)])
    seed_seconds = time.perf_counter() - seeded
    try:
        env = {
            **os.environ,
            **emulator.environment(),
            "BENCH_GCP_KEY": json.dumps(emulator.service_account_key(PROJECT)),
        }
        rows = []
        for mode in ("cloudios", "baseline"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--instances",
                    str(args.instances),
                    "--days",
                    str(args.days),
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        emulator.stop()
    pairs = 4  # CPU mean + max, network in sum, network out sum
    print(
        f"# {args.instances} VMs + {args.instances} disks, {args.days} days, "
        f"emulator seeded in {seed_seconds:.1f}s"
    )
    print(
        f"# lower bound: {pairs} (metric, aligner) pairs x 1 page = {pairs} ListTimeSeries calls; "
        f"Python {platform.python_version()}"
    )
    for row in rows:
        print(json.dumps(row))


if __name__ == "__main__":
    main()

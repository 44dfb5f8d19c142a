"""Benchmark: Azure Monitor calls, wall time and peak RSS of a 1,000-VM + 1,000-disk scan, against a baseline.

    .venv/bin/python bench/azure_scan.py [--vms 1000] [--disks 1000] [--days 90]

The HTTPS Azure emulator runs in a child process with one subscription: ``--vms`` VMs split over two
regions (idle, oversized and busy profiles) with four metrics each (Percentage CPU, Network In/Out
Total, Available Memory Bytes) and ``--disks`` managed disks, ``--days`` days of daily aggregates.
Two approaches then run, each in its own subprocess so its peak RSS is its own (``ru_maxrss``):

* cloudios: ``cloudios.providers.azure.collect.collect`` (Resource Graph per kind, multi-resource
  metrics at 50 VMs of one region per call, every metric in the call);
* baseline: one Metrics - List call per resource and metric (``metrics.list`` on the resource URI),
  which is what Cloud Custodian's azure ``metrics`` filter sends; it keeps what it read until the end.

Wall times are emulator times on the same CPUs, not Azure latencies; call counts are what Azure would receive.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("/bench"):
    sys.path.pop(0)  # bench/operator.py would shadow the stdlib `operator`

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TENANT, CLIENT, SECRET = (
    "00000000-0000-0000-0000-0000000000e1",
    "00000000-0000-0000-0000-0000000000c1",
    "bench",
)
REGIONS = ("westeurope", "eastus")
METRICS = ("Percentage CPU", "Network In Total", "Network Out Total", "Available Memory Bytes")


def build_estate(sub: str, vms: int, disks: int, days: int) -> Any:
    from cloudios.emulators.azure.estate import Estate, EstateResource, MetricSpec  # noqa: PLC0415

    resources = []
    for i in range(vms):
        region = REGIONS[i % 2]
        level = (0.01, 0.05, 0.4)[i % 3]
        resources.append(
            EstateResource(
                kind="azure.vm",
                id=f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-{i}",
                region=region,
                attributes={"vmSize": "Standard_D8s_v5", "powerState": "running"},
                metrics={
                    "percentage_cpu": MetricSpec(pattern="steady", level=level),
                    "network_in_total": MetricSpec(pattern="steady", level=1e9),
                    "network_out_total": MetricSpec(pattern="steady", level=5e8),
                    "available_memory_bytes": MetricSpec(pattern="steady", level=0.2),
                },
            )
        )
    for i in range(disks):
        state = "Unattached" if i % 5 == 0 else "Attached"
        resources.append(
            EstateResource(
                kind="azure.disk",
                id=f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/disks/disk-{i}",
                region=REGIONS[i % 2],
                attributes={
                    "sku": "Premium_LRS",
                    "diskSizeGb": 128,
                    "diskState": state,
                    "timeCreated": "2025-01-01T00:00:00+00:00",
                },
            )
        )
    return Estate(provider="azure", account=sub, lookback_days=days, resources=resources)


def serve(sub: str, vms: int, disks: int, days: int, work: str, ready: Any, stop: Any) -> None:  # noqa: PLR0917
    from cloudios.emulators.azure.server import AzureEmulator, Principal  # noqa: PLC0415
    from cloudios.emulators.azure.tls import make_certificates  # noqa: PLC0415

    estate = build_estate(sub, vms, disks, days)
    emulator = AzureEmulator(
        [estate], [Principal(TENANT, CLIENT, secret=SECRET)], make_certificates(Path(work))
    )
    emulator.start()
    for r in estate.resources:  # generate the series before timing starts
        for m in r.metrics:
            emulator.days(estate, r.id, m)
    ready.put((emulator.url, str(emulator.tls.ca_file)))
    stop.wait()
    emulator.stop()


def run_cloudios(sub: str, days: int) -> dict[str, Any]:
    from cloudios.api.cloudaccount import CloudAccountSpec  # noqa: PLC0415
    from cloudios.modules import registry  # noqa: PLC0415
    from cloudios.providers.azure import collect  # noqa: PLC0415
    from cloudios.providers.azure.credentials import AzureClientSecret  # noqa: PLC0415
    from cloudios.providers.base import CollectRequest  # noqa: PLC0415

    mods = registry.for_provider("azure")
    spec = CloudAccountSpec.model_validate(
        {"provider": "azure", "azure": {"subscriptionId": sub, "tenantId": TENANT, "clientId": CLIENT}}
    )
    request = CollectRequest(
        tenant="bench",
        account_name="bench",
        account=spec,
        lookback_days=days,
        kinds=frozenset({"azure.vm", "azure.disk"}),
        metrics=tuple(n for m in mods for n in m.spec.metrics),
        end=datetime.now(UTC),
        credentials=AzureClientSecret(value=SECRET),
    )
    started = time.monotonic()
    result = collect.collect(request)
    wall = time.monotonic() - started
    days_read = sum(len(s.daily) for per in result.snapshot.metrics.values() for s in per.values())
    return {
        "calls": dict(result.api_calls),
        "wall": wall,
        "resources": len(result.snapshot.resources),
        "days": days_read,
    }


def run_baseline(sub: str, days: int) -> dict[str, Any]:
    from azure.identity import ClientSecretCredential  # noqa: PLC0415
    from azure.mgmt.monitor import MonitorManagementClient  # noqa: PLC0415

    from cloudios.providers.azure.auth import Cloud  # noqa: PLC0415

    cloud = Cloud.from_environment()
    credential = ClientSecretCredential(
        TENANT, CLIENT, SECRET, authority=cloud.authority_host, disable_instance_discovery=True
    )
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    span = f"{(end.timestamp() - days * 86400):.0f}"
    start_iso = datetime.fromtimestamp(float(span), UTC).isoformat().replace("+00:00", "Z")
    timespan = f"{start_iso}/{end.isoformat().replace('+00:00', 'Z')}"
    ids = [
        f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-{i}"
        for i in range(int(os.environ["BENCH_VMS"]))
    ]
    kept: list[Any] = []
    local: Any = __import__("threading").local()

    def client() -> Any:
        if not hasattr(local, "c"):
            local.c = MonitorManagementClient(
                credential, sub, base_url=cloud.resource_manager, credential_scopes=[cloud.scope]
            )
        return local.c

    def one(job: tuple[str, str]) -> Any:
        rid, metric = job
        return client().metrics.list(
            rid,
            timespan=timespan,
            interval="P1D",
            metricnames=metric,
            aggregation="average,maximum,minimum,total,count",
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        kept.extend(pool.map(one, [(rid, m) for rid in ids for m in METRICS]))
    wall = time.monotonic() - started
    days_read = sum(len(ts.data or []) for r in kept for v in r.value for ts in v.timeseries or [])
    return {"calls": {"monitor.MetricsList(per resource)": len(kept)}, "wall": wall, "days": days_read}


def child(which: str, sub: str, days: int, out: Any) -> None:
    result = run_cloudios(sub, days) if which == "cloudios" else run_baseline(sub, days)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--disks", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    sub = str(uuid.uuid4())
    with tempfile.TemporaryDirectory() as work:
        ready, stop = ctx.Queue(), ctx.Event()
        server = ctx.Process(target=serve, args=(sub, args.vms, args.disks, args.days, work, ready, stop))
        server.start()
        url, ca = ready.get(timeout=600)
        os.environ.update(
            {
                "AZURE_AUTHORITY_HOST": url,
                "CLOUDIOS_AZURE_RESOURCE_MANAGER_URL": url,
                "REQUESTS_CA_BUNDLE": ca,
                "BENCH_VMS": str(args.vms),
            }
        )
        results = {}
        try:
            for which in ("cloudios", "baseline"):
                out = ctx.Queue()
                proc = ctx.Process(target=child, args=(which, sub, args.days, out))
                proc.start()
                results[which] = out.get(timeout=1800)
                proc.join()
        finally:
            stop.set()
            server.join(timeout=30)
    per_region = Counter(REGIONS[i % 2] for i in range(args.vms))
    bound = sum(math.ceil(n / 50) for n in per_region.values())
    print(
        json.dumps(
            {"lowerBound": bound, "vms": args.vms, "disks": args.disks, "days": args.days, **results},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: 200 CloudAccounts applied at once; time to Ready per account and the operator's peak RSS.

    .venv/bin/python -m bench.operator [--accounts 200] [--runs 1]

Starts what the e2e tests start: the test control plane (kube-apiserver + etcd, tests.support),
a moto server, and `python -m cloudios.controller` as a subprocess watching one namespace. The
clock for each account starts just before the single `kubectl apply` of all accounts and stops
when a watch sees its Ready condition turn True (credentials resolved from a Secret, AssumeRole
and GetCallerIdentity against moto, health check stored, status written).
"""

# ruff: noqa: A005 - the file name is given; it only shadows `operator` when bench/ is on sys.path

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("/bench"):
    # Started as `python bench/operator.py`: drop bench/ so the stdlib `operator` stays visible.
    sys.path.pop(0)

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from kubernetes import client as k8s  # noqa: E402
from kubernetes import watch  # noqa: E402
from tests.e2e.harness import CRDS, PEERING_CRDS, OperatorProcess, apply, audit_env, operator_env  # noqa: E402
from tests.e2e.manifests import SECRET_NAME, account, base_secret  # noqa: E402
from tests.support.controlplane import free_port, start_control_plane  # noqa: E402

from cloudios.controller import decisions  # noqa: E402
from cloudios.emulators.aws.server import start_moto_server  # noqa: E402

NAMESPACE = "bench"


def peak_rss_mib(pid: int) -> float:
    """VmHWM (peak resident set) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def watch_ready(
    api: k8s.ApiClient, names: set[str], started: float, ready: dict[str, float], stop: threading.Event
) -> None:
    custom = k8s.CustomObjectsApi(api)
    while not stop.is_set() and len(ready) < len(names):
        stream = watch.Watch()
        for event in stream.stream(
            custom.list_namespaced_custom_object,
            "cloudios.io",
            "v1alpha1",
            NAMESPACE,
            "cloudaccounts",
            timeout_seconds=30,
        ):
            obj: dict[str, Any] = event["object"]
            name = obj["metadata"]["name"]
            conditions = (obj.get("status") or {}).get("conditions") or []
            if name not in ready and any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                ready[name] = time.monotonic() - started
            if stop.is_set() or len(ready) == len(names):
                stream.stop()
                break


def run(accounts: int, work: Path) -> dict[str, Any]:
    plane = start_control_plane(work / "controlplane")
    moto = start_moto_server()
    operator: OperatorProcess | None = None
    try:
        apply(plane, CRDS)
        apply(plane, PEERING_CRDS)
        plane.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/cloudaccounts.cloudios.io")
        api = plane.api_client()
        core = k8s.CoreV1Api(api)
        core.create_namespace(k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=NAMESPACE)))
        core.create_namespaced_secret(
            NAMESPACE, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=SECRET_NAME), string_data=base_secret())
        )
        cert = decisions.generate_webhook_certificate(work / "tls", ["127.0.0.1"])
        tls = {"cert": cert.cert_file, "key": cert.key_file, "ca": cert.ca_file}
        env = operator_env(plane, moto.url, tls, "bench.test.cloudios.io")
        env.update(
            {
                "CLOUDIOS_NAMESPACES": NAMESPACE,
                "CLOUDIOS_DATA_DIR": str(work / "data"),
                "CLOUDIOS_WEBHOOK_PORT": str(free_port()),
                "CLOUDIOS_LOG_LEVEL": "WARNING",
                **audit_env(work / "audit-keys", NAMESPACE),
            }
        )
        operator = OperatorProcess("operator", env, work / "operator.log").start()
        time.sleep(5)  # started, peering resolved, watching
        idle_rss = peak_rss_mib(operator.pid)

        names = {f"acct-{i:03d}" for i in range(accounts)}
        manifest = work / "accounts.yaml"
        # One cloud account each: objects naming the same one wait as DuplicateAccount.
        bodies = [account(n, account_id=f"{100_000_000_000 + i:012d}") for i, n in enumerate(sorted(names))]
        manifest.write_text(yaml.safe_dump_all(bodies))
        ready: dict[str, float] = {}
        stop = threading.Event()
        started = time.monotonic()
        watcher = threading.Thread(target=watch_ready, args=(api, names, started, ready, stop), daemon=True)
        watcher.start()
        plane.kubectl("apply", "-n", NAMESPACE, "-f", manifest, timeout=300)
        applied = time.monotonic() - started
        watcher.join(timeout=600)
        stop.set()
        if len(ready) < len(names):
            raise RuntimeError(f"only {len(ready)} of {len(names)} accounts became Ready:\n{operator.tail()}")
        times = list(ready.values())
        return {
            "accounts": accounts,
            "apply_seconds": round(applied, 2),
            "p50_seconds": round(statistics.median(times), 2),
            "p95_seconds": round(percentile(times, 95), 2),
            "max_seconds": round(max(times), 2),
            "idle_rss_mib": round(idle_rss, 1),
            "peak_rss_mib": round(peak_rss_mib(operator.pid), 1),
            "operator_alive": operator.alive(),
        }
    finally:
        if operator is not None:
            operator.stop()
        moto.stop()
        plane.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="cloudios-bench-operator-") as work:
            results.append(run(args.accounts, Path(work)))
            print(json.dumps(results[-1]), flush=True)
    print(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
                "runs": results,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: CloudWatch calls, wall time and peak RSS of an AWS scan at several sizes, against a baseline.

    .venv/bin/python bench/aws_scan.py [--instances 1000 10000] [--days 90] [--write-docs]

Each size runs in its own process with its own emulator (``--one-size``), so sizes never share
state; the table shows every size and the growth of wall time between the smallest and largest.

One emulated account (moto server in this process, with Cloudios's CloudWatch patches) holds
``--instances`` EC2 instances split over two regions, each with its root EBS volume, and daily
CloudWatch statistics for ``--days`` days: CPUUtilization, NetworkIn and NetworkOut per instance,
VolumeReadOps and VolumeWriteOps per volume (5 series per instance/volume pair).

Seeding fast path: one ``StatisticValues``-style datum per series and day (SampleCount 24 for
hourly samples, Sum, Minimum, Maximum) appended straight into the in-process emulator's store,
because PutMetricData through moto's request parser costs ~0.3 ms per datum (about 2.5 minutes
for 450,000 datums). ``--seed-via-api`` uses PutMetricData instead.

Two approaches then run, each in its own subprocess so its peak RSS is its own
(``VmHWM`` of the child, read by the child itself):

* cloudios: ``cloudios.providers.aws.collect.collect`` (inventory + GetMetricData packed at 500
  queries per call).
* baseline: Cloud Custodian's ``metrics`` filter approach: one GetMetricStatistics call per
  resource and metric (Average, Maximum, SampleCount, Sum in that one call; p95 would need a
  second call, since Statistics and ExtendedStatistics cannot be mixed). Like Custodian, which
  annotates each resource with its datapoints, it keeps what it read until the end, as Cloudios
  keeps its daily statistics in the snapshot.

Wall times are emulator times (a local moto on the same CPUs), not AWS latencies; the call
counts are what would be sent to AWS.

The estate and its seeding are in bench/aws_scan_estate.py, the report in bench/aws_scan_report.py.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("/bench"):
    # Started as `python bench/aws_scan.py`: bench/operator.py would shadow the stdlib `operator`.
    sys.path.pop(0)

import argparse
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.* (the estate and the report) live next to this file

from bench.aws_scan_estate import (  # noqa: E402
    ACCOUNT,
    INSTANCE_METRICS,
    KEY_ID,
    REGIONS,
    SECRET,
    VOLUME_METRICS,
    scan_end,
    seed,
)
from bench.aws_scan_report import HEADING, report, write_docs  # noqa: E402


def peak_rss_kib(field: str = "VmHWM") -> int:
    """This process's peak resident set (VmHWM; VmRSS: the current one). Not ru_maxrss: Linux
    carries that across exec, so a child forked from the (large) benchmark process would report
    the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# --- the two approaches (child processes) ----------------------------------------------------


def run_cloudios(days: int, concurrency: int) -> dict[str, Any]:
    from cloudios.api.cloudaccount import AwsAccount, CloudAccountSpec  # noqa: PLC0415
    from cloudios.domain import Metric, Provider  # noqa: PLC0415
    from cloudios.domain.resource import EBS_VOLUME, EC2_INSTANCE  # noqa: PLC0415
    from cloudios.modules.base import MetricNeed  # noqa: PLC0415
    from cloudios.providers.aws.collect import collect  # noqa: PLC0415
    from cloudios.providers.aws.credentials import AwsBaseCredentials  # noqa: PLC0415
    from cloudios.providers.aws.metrics import iter_queries  # noqa: PLC0415
    from cloudios.providers.base import CollectRequest  # noqa: PLC0415

    needs = (
        MetricNeed(EC2_INSTANCE, Metric.CPU_UTILIZATION),
        MetricNeed(EC2_INSTANCE, Metric.NETWORK_IN_BYTES),
        MetricNeed(EC2_INSTANCE, Metric.NETWORK_OUT_BYTES),
        MetricNeed(EBS_VOLUME, Metric.VOLUME_READ_OPS),
        MetricNeed(EBS_VOLUME, Metric.VOLUME_WRITE_OPS),
    )
    spec = CloudAccountSpec(
        provider=Provider.AWS,
        aws=AwsAccount(
            account_id=ACCOUNT,
            role_arn=f"arn:aws:iam::{ACCOUNT}:role/cloudios-readonly",
            external_id="bench-external-id",
            regions=list(REGIONS),
        ),
    )
    request = CollectRequest(
        tenant="bench",
        account_name="estate",
        account=spec,
        lookback_days=days,
        kinds=frozenset({EC2_INSTANCE, EBS_VOLUME}),
        metrics=needs,
        end=scan_end(),
        credentials=AwsBaseCredentials(KEY_ID, SECRET),
        max_concurrency=concurrency,
    )
    began = time.perf_counter()
    result = collect(request)
    wall = time.perf_counter() - began
    by_kind: dict[str, list[Metric]] = {}
    for need in needs:
        by_kind.setdefault(need.kind, []).append(need.metric)
    resources = result.snapshot.resources
    queries = {  # counted as they are made: the count must not add to the peak it sits next to
        region: sum(1 for _ in iter_queries((r for r in resources if r.region == region), by_kind))
        for region in REGIONS
    }
    summaries = [s for per in result.snapshot.metrics.values() for s in per.values()]
    return {
        "wall": wall,
        "rss_kib": peak_rss_kib(),
        "cloudwatch_calls": result.api_calls["cloudwatch.GetMetricData"],
        "other_calls": sum(v for k, v in result.api_calls.items() if not k.startswith("cloudwatch.")),
        "retries": sum(v for k, v in result.api_calls.items() if k.endswith(".retries")),
        "queries": queries,
        "resources": len(resources),
        "series": len(summaries),
        "days": sum(s.days_with_data for s in summaries),
        "column_bytes": sum(s.columns.nbytes() for s in summaries),
    }


def run_baseline(days: int, concurrency: int) -> dict[str, Any]:
    import boto3.session  # noqa: PLC0415

    began = time.perf_counter()
    end = scan_end()
    jobs = []
    other = 0
    for region in REGIONS:
        session = boto3.session.Session(
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=region
        )
        ec2 = session.client("ec2")
        cw = session.client("cloudwatch")
        for page in ec2.get_paginator("describe_instances").paginate():
            other += 1
            for reservation in page["Reservations"]:
                for inst in reservation["Instances"]:
                    jobs += [(cw, ns, n, "InstanceId", inst["InstanceId"]) for ns, n in INSTANCE_METRICS]
        for page in ec2.get_paginator("describe_volumes").paginate():
            other += 1
            jobs += [
                (cw, ns, n, "VolumeId", v["VolumeId"]) for v in page["Volumes"] for ns, n in VOLUME_METRICS
            ]

    kept: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def one(job: tuple[Any, str, str, str, str]) -> int:
        cw, namespace, name, dim, value = job
        answer = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=[{"Name": dim, "Value": value}],
            StartTime=end - timedelta(days=days),
            EndTime=end,
            Period=86400,
            Statistics=["Average", "Maximum", "SampleCount", "Sum"],
        )
        kept[(value, name)] = answer["Datapoints"]  # kept like Custodian's c7n.metrics annotation
        return len(answer["Datapoints"])

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        points = list(pool.map(one, jobs))
    assert len(kept) == len(jobs)
    return {
        "wall": time.perf_counter() - began,
        "rss_kib": peak_rss_kib(),
        "cloudwatch_calls": len(jobs),
        "other_calls": other,
        "series": len(jobs),
        "days": sum(points),
    }


def _child(approach: str, url: str, args: argparse.Namespace, instances: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        approach,
        "--instances",
        str(instances),
        "--days",
        str(args.days),
        "--concurrency",
        str(args.concurrency),
    ]
    env = {**os.environ, "AWS_ENDPOINT_URL": url, "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def one_size(args: argparse.Namespace, instances: int) -> dict[str, Any]:
    """Seed one emulator with ``instances`` instances and run both approaches against it."""
    from cloudios.emulators.aws.server import start_moto_server  # noqa: PLC0415

    server = start_moto_server()
    try:
        seeded = seed(server.url, instances, args.days, via_api=args.seed_via_api)
        took = f"{seeded['series']:,} series in {seeded['seconds']:.0f} s"
        print(f"{instances}: seeded {took}", file=sys.stderr)
        ours = _child("cloudios", server.url, args, instances)
        print(f"{instances}: cloudios {ours['wall']:.1f} s", file=sys.stderr)
        base = _child("baseline", server.url, args, instances)
        print(f"{instances}: baseline {base['wall']:.1f} s", file=sys.stderr)
    finally:
        server.stop()
    return {"instances": instances, "seeded": seeded, "cloudios": ours, "baseline": base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[1000])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seed-via-api", action="store_true")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"replace '{HEADING}' in docs/benchmarks.md"
    )
    parser.add_argument("--worker", choices=["cloudios", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--one-size", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "cloudios":
        print(json.dumps(run_cloudios(args.days, args.concurrency)))
        return
    if args.worker == "baseline":
        print(json.dumps(run_baseline(args.days, args.concurrency)))
        return
    if args.one_size:
        print(json.dumps(one_size(args, args.instances[0])))
        return
    runs = []
    for instances in sorted(args.instances):
        command = [sys.executable, str(Path(__file__).resolve()), "--one-size", "--instances", str(instances)]
        command += ["--days", str(args.days), "--concurrency", str(args.concurrency)]
        command += ["--seed-via-api"] if args.seed_via_api else []
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=7200)
        sys.stderr.write(done.stderr)
        done.check_returncode()
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    section = report(args, runs)
    print(section)
    if args.write_docs:
        write_docs(section)


if __name__ == "__main__":
    main()

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
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("/bench"):
    # Started as `python bench/aws_scan.py`: bench/operator.py would shadow the stdlib `operator`.
    sys.path.pop(0)

import argparse
import json
import math
import os
import platform
import random
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
HEADING = "## AWS scan (bench/aws_scan.py)"
ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
KEY_ID, SECRET = "cloudios-bench-key", "benchmark-only"
INSTANCE_METRICS = (("AWS/EC2", "CPUUtilization"), ("AWS/EC2", "NetworkIn"), ("AWS/EC2", "NetworkOut"))
VOLUME_METRICS = (("AWS/EBS", "VolumeReadOps"), ("AWS/EBS", "VolumeWriteOps"))


def peak_rss_kib(field: str = "VmHWM") -> int:
    """This process's peak resident set (VmHWM; VmRSS: the current one). Not ru_maxrss: Linux
    carries that across exec, so a child forked from the (large) benchmark process would report
    the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _end() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# --- seeding (parent process) --------------------------------------------------------------------


def seed(url: str, instances: int, days: int, *, via_api: bool) -> dict[str, Any]:
    import boto3.session  # noqa: PLC0415

    from cloudios.emulators.aws.series import MetricWriter  # noqa: PLC0415

    began = time.perf_counter()
    rng = random.Random(42)
    end = _end()
    per_region = math.ceil(instances / len(REGIONS))
    series = 0
    for region in REGIONS:
        session = boto3.session.Session(
            aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=region
        )
        ec2 = session.client("ec2", endpoint_url=url)
        left = per_region
        while left:
            batch = min(100, left)
            ec2.run_instances(ImageId="ami-1e749f67", MinCount=batch, MaxCount=batch, InstanceType="m5.large")
            left -= batch
        ids = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
        volumes = [v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]]
        targets = [(ns, name, "InstanceId", i) for i in ids for ns, name in INSTANCE_METRICS]
        targets += [(ns, name, "VolumeId", v) for v in volumes for ns, name in VOLUME_METRICS]
        series += len(targets)
        writer = MetricWriter(session.client("cloudwatch", endpoint_url=url)) if via_api else None
        store = None if via_api else _store(region)
        for namespace, name, dim, value in targets:
            level = rng.uniform(0.5, 80.0) if name == "CPUUtilization" else rng.uniform(1e3, 1e8)
            for d in range(days):
                day = end - timedelta(days=days - d)
                low, high = level * rng.uniform(0.2, 0.9), level * rng.uniform(1.1, 1.25)
                total = level * 24 * rng.uniform(0.95, 1.05)
                if writer is not None:
                    writer.put_stats(
                        namespace, name, [(dim, value)], day, samples=24, total=total, low=low, high=high
                    )
                else:
                    assert store is not None
                    store(namespace, name, [{"Name": dim, "Value": value}], day, 24, total, low, high)
        if writer is not None:
            writer.flush()
    return {"series": series, "datums": series * days, "seconds": time.perf_counter() - began}


def _store(region: str) -> Any:
    from moto.cloudwatch.models import MetricAggregatedDatum, cloudwatch_backends  # noqa: PLC0415

    backend = cloudwatch_backends[ACCOUNT][region]

    def put(  # noqa: PLR0917 - mirrors moto's positional datum constructor
        namespace: str,
        name: str,
        dims: list[dict[str, str]],
        day: datetime,
        n: int,
        total: float,
        low: float,
        high: float,
    ) -> None:
        datum = MetricAggregatedDatum(namespace, name, low, high, n, total, dims, day)
        backend.metric_data.append(datum)

    return put


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
        end=_end(),
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
    end = _end()
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


# --- report ------------------------------------------------------------------------------------


def report(args: argparse.Namespace, runs: list[dict[str, Any]]) -> str:
    shown = " ".join(a for a in sys.argv[1:] if a != "--write-docs")
    how = "PutMetricData" if args.seed_via_api else "the in-process fast path"

    def row(size: int, name: str, result: dict[str, Any], lower: str) -> str:
        cells = [
            f"{size:,}",
            name,
            f"{result['cloudwatch_calls']:,}",
            lower,
            str(result["other_calls"]),
            f"{result['series']:,}",
            f"{result['days']:,}",
            f"{result['wall']:.1f}",
            f"{result['rss_kib'] / 1024:.0f}",
        ]
        return "| " + " | ".join(cells) + " |"

    rows = []
    for run in runs:
        ours, base, size = run["cloudios"], run["baseline"], run["instances"]
        bound = sum(math.ceil(q / 500) for q in ours["queries"].values())
        rows.append(row(size, "Cloudios `collect` (GetMetricData, 500 queries/call)", ours, f"{bound:,}"))
        rows.append(row(size, "Baseline: one GetMetricStatistics per resource and metric", base, "—"))
    small, large = runs[0], runs[-1]
    growth = ""
    if len(runs) > 1:
        ratio = large["cloudios"]["wall"] / small["cloudios"]["wall"]
        base_ratio = large["baseline"]["wall"] / small["baseline"]["wall"]
        growth = (
            f"Wall time grows {ratio:.1f}x for {large['instances'] / small['instances']:.0f}x the "
            f"resources (baseline: {base_ratio:.1f}x). "
        )
    largest = large["cloudios"]
    estate = (
        f"Estate per size: N EC2 instances and their N root volumes in {len(REGIONS)} regions, "
        f"{args.days} days of daily statistics, 5 series per instance/volume pair (seeded via {how}: "
        + ", ".join(
            f"{r['instances']:,}: {r['seeded']['datums']:,} datums in {r['seeded']['seconds']:.0f} s"
            for r in runs
        )
        + "). Cloudios asks Average/Maximum/SampleCount/p99 for CPU and Sum/Maximum/SampleCount for "
        f"counters, 500 queries x {args.days} days = {500 * args.days:,} datapoints a call (limit "
        "100,800). The baseline asks Average, Maximum, SampleCount and Sum in one GetMetricStatistics "
        "call per series and gets no percentile (that would be one more call per instance). Both "
        f"read the same days of data. Concurrency {args.concurrency} threads each; each approach ran "
        "in its own subprocess (peak RSS = its own `VmHWM`); both keep every day they read until the "
        "end: Cloudios in the snapshot as compact columns (`DailyColumns`: one typed array per "
        "statistic, `DailyStat` views built on access), the baseline as the raw datapoints, like "
        f"Custodian's resource annotations. {growth}At {large['instances']:,} instances the columns "
        f"hold {largest['days']:,} days in {largest['column_bytes'] / 2**20:.0f} MiB "
        f"({largest['column_bytes'] / max(1, largest['days']):.1f} bytes a day; as `DailyStat` objects, "
        f"160 bytes a day, they would take {largest['days'] * 160 / 2**20:.0f} MiB)."
    )
    memory = (
        "Memory: Cloudios plans its GetMetricData batches as it sends them (at most two per worker "
        "in flight, never the estate's whole plan of Query objects) and reduces each answer, in the "
        "worker thread that fetched it, to one array of days per query (8 bytes a query-day; the "
        "parsed answer, ~45,000 datetime/float pairs, dies in that thread); the summarizer builds "
        "each series' columns straight from those arrays. Before (recorded at 240d71e: 217 MiB at "
        "1,000 and 808 MiB at 10,000 instances; 520 MiB at 10,000 re-measured for the collect alone "
        "at b073de8, which already bounded the batches in flight) the parsed answers waited for the "
        "summarizer as (datetime, float) tuples, ~170 bytes a datapoint (about 15 answers, 110 MiB, "
        "alive at the peak at 3,000 instances, tracemalloc), and the plan held 16 Query objects per "
        "instance for the whole scan. What the peak still holds at the largest size: the snapshot "
        "itself (the columns above, 20,000 pydantic resources of ~1.6 KB, 50,000 summaries of ~0.5 "
        "KB), the interpreter and libraries (78 MiB when the inventory starts) and botocore's "
        "service models (~22 MiB), the malloc arenas of the 8 worker threads (45-60 MiB, free but "
        "retained), and Python heap left fragmented by the inventory: the emulator answers "
        "DescribeInstances with a region's 5,000 instances in one page (moto's MaxResults counts "
        "reservations; ~15 MB of XML, ~95 MiB to parse, both regions at once), where AWS pages at "
        "1,000 instances."
    )
    machine = (
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (the machine is shared); the moto server "
        "runs in the benchmark's own process on the same CPUs, so wall times are emulator times, not "
        "AWS latencies. The call counts are what AWS would receive."
    )
    return "\n".join(
        [
            HEADING,
            "",
            "```",
            f".venv/bin/python bench/aws_scan.py {shown}".rstrip(),
            "```",
            "",
            estate,
            "",
            (
                "| Instances | Approach | CloudWatch calls | Lower bound Σ⌈queries/500⌉ | Other API calls "
                "| Series | Days of data read | Wall (s) | Peak RSS (MiB) |"
            ),
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            memory,
            "",
            machine,
            "",
        ]
    )


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    if HEADING in text:
        start = text.index(HEADING)
        following = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[following + 1 :] if following != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + section
    DOCS.write_text(text)


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

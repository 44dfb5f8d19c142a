"""Benchmark: 50 agents sending 10,000-pod reports at once to real `cloudios ingest` replicas on PostgreSQL.

    .venv/bin/python -m bench.ingest [--agents 50] [--pods 10000] [--rounds 2] [--replicas 2]

Starts what the tests start: a private PostgreSQL (tests.support.postgres, Debian's server), a
database laid out as in production (migration role owning it, app role owning nothing, row-level
security), and ``--replicas`` `cloudios ingest --serve reports` processes connecting as the app role
only (several stateless replicas behind a Service, as in the chart; here each agent is given one
replica round-robin, as a Service would spread connections). One cluster token per agent is minted
in the store (10 tenants). Each agent is a thread with its own TLS 1.3 connection; after a barrier
all send at once, ``--rounds`` reports each (inventory of ``--pods`` pods, 10 per Deployment and
one hour of usage per Deployment's container: 1,000 usage rows per report at 10,000 pods), and,
like the real agent, wait Retry-After on 429/503 and send the same batch again.

Accept latency: from sending a request to its 200 (one attempt); end-to-end: from a batch's first
attempt to its 200. Errors: batches never accepted (anything but 200 after the retries, transport
errors). The stored result is checked afterwards as the database superuser.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support import agent_payloads as agent_reports  # noqa: E402
from tests.support.ingest import IngestProcess, running_ingest  # noqa: E402
from tests.support.pg_store import TenantDatabase, tenant_database  # noqa: E402
from tests.support.postgres import start_postgres  # noqa: E402

from cloudios.security import cluster_tokens, keyset  # noqa: E402
from cloudios_agent import wire  # noqa: E402

TENANTS = 10
MAX_ATTEMPTS = 20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))] if ordered else 0.0


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (load-independent, unlike wall times on a shared host)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bodies(agents: int, pods: int, rounds: int) -> tuple[list[list[bytes]], int, int]:
    """One gzipped body per agent and round (each agent its own stream), built before the clock."""
    template = wire.encode_report(agent_reports.cluster_report(pods, stream="c0ffee"))
    assert template.count(b'"stream":"c0ffee","sequence":1,') == 1
    out = [
        [
            gzip.compress(
                template.replace(
                    b'"stream":"c0ffee","sequence":1,', f'"stream":"{a:06x}","sequence":{r + 1},'.encode()
                ),
                compresslevel=6,
            )
            for r in range(rounds)
        ]
        for a in range(agents)
    ]
    return out, len(template), len(out[0][0])


class Agent(threading.Thread):
    """One agent: its own connection to one replica; sends its batches in order, retrying on 429/503."""

    def __init__(
        self, ingest: IngestProcess, token: str, batches: list[bytes], start: threading.Barrier
    ) -> None:
        super().__init__(daemon=True)
        self.ingest, self.token, self.batches, self.start_line = ingest, token, batches, start
        self.accept: list[float] = []
        self.end_to_end: list[float] = []
        self.retries: dict[int, int] = {}
        self.errors: list[str] = []

    def run(self) -> None:
        with self.ingest.client() as client:
            self.start_line.wait()
            for body in self.batches:
                first = time.monotonic()
                for _ in range(MAX_ATTEMPTS):
                    sent = time.monotonic()
                    try:
                        answer = self.ingest.post(client, self.token, body)
                    except Exception as exc:  # noqa: BLE001 - counted, the run goes on
                        self.errors.append(type(exc).__name__)
                        break
                    if answer.status_code == 200:
                        now = time.monotonic()
                        self.accept.append(now - sent)
                        self.end_to_end.append(now - first)
                        break
                    if answer.status_code in (429, 503):
                        self.retries[answer.status_code] = self.retries.get(answer.status_code, 0) + 1
                        time.sleep(float(answer.headers.get("retry-after", "1")))
                        continue
                    self.errors.append(str(answer.status_code))
                    break
                else:
                    self.errors.append("gave up")


def mint_tokens(db: TenantDatabase, agents: int) -> list[tuple[str, str, str]]:
    """(tenant, cluster, token) per agent, minted in the store as the operator does."""
    repo = db.repository(keyset=keyset.generate())
    try:
        out = []
        for a in range(agents):
            tenant, cluster = f"tenant-{a % TENANTS:02d}", f"cluster-{a:03d}"
            token = cluster_tokens.mint()
            repo.add_cluster_token(
                tenant=tenant, account_name=cluster, cluster=cluster, token=token, rotation="", replaces=None,
                now=agent_reports.T0, overlap=timedelta(hours=24),
            )  # fmt: skip
            out.append((tenant, cluster, token))
        return out
    finally:
        repo.close()


def run(agents: int, pods: int, rounds: int, replicas: int, work: Path) -> dict[str, Any]:
    built = time.monotonic()
    batches, raw_bytes, gz_bytes = bodies(agents, pods, rounds)
    built = time.monotonic() - built
    with start_postgres(Path(tempfile.mkdtemp(prefix="cloudios-pg-"))) as server:  # postgres must reach it
        db = tenant_database(server)
        tokens = mint_tokens(db, agents)
        env = {"CLOUDIOS_DATABASE_URL": db.app_url, "CLOUDIOS_DATABASE_PASSWORD": db.password,
               "CLOUDIOS_LOG_LEVEL": "WARNING"}  # fmt: skip
        with contextlib.ExitStack() as stack:
            ingests = []
            for r in range(replicas):
                (work / f"replica-{r}").mkdir()
                ingests.append(stack.enter_context(running_ingest(work / f"replica-{r}", env)))
            start = threading.Barrier(agents + 1)
            threads = [Agent(ingests[a % replicas], tokens[a][2], batches[a], start) for a in range(agents)]
            for thread in threads:
                thread.start()
            cpu_before = [cpu_seconds(i.process.pid) for i in ingests]
            load_before = os.getloadavg()[0]
            start.wait()
            began = time.monotonic()
            for thread in threads:
                thread.join()
            wall = time.monotonic() - began
            rss = [round(peak_rss_mib(i.process.pid), 1) for i in ingests]
            cpu = [round(cpu_seconds(i.process.pid) - b, 1) for i, b in zip(ingests, cpu_before, strict=True)]
            load_after = os.getloadavg()[0]
        stored = {
            table: int(db.superuser(f"SELECT count(*) FROM {table}").strip())
            for table in ("agent_batches", "agent_inventory", "agent_usage")
        }
        size = db.superuser(f"SELECT pg_size_pretty(pg_database_size('{db.name}'))").strip()
    accept = [x for t in threads for x in t.accept]
    e2e = [x for t in threads for x in t.end_to_end]
    retries: dict[int, int] = {}
    for t in threads:
        for code, n in t.retries.items():
            retries[code] = retries.get(code, 0) + n
    return {
        "agents": agents, "pods": pods, "rounds": rounds, "replicas": replicas,
        "reportJsonBytes": raw_bytes, "reportGzipBytes": gz_bytes, "bodiesBuiltSeconds": round(built, 1),
        "accepted": len(accept), "errors": sum(len(t.errors) for t in threads),
        "errorKinds": sorted({e for t in threads for e in t.errors}),
        "retries": {str(k): v for k, v in sorted(retries.items())},
        "acceptP50": round(statistics.median(accept), 2) if accept else None,
        "acceptP95": round(percentile(accept, 0.95), 2), "acceptMax": round(max(accept, default=0), 2),
        "endToEndP50": round(statistics.median(e2e), 2) if e2e else None,
        "endToEndP95": round(percentile(e2e, 0.95), 2), "endToEndMax": round(max(e2e, default=0), 2),
        "wallSeconds": round(wall, 1), "reportsPerSecond": round(len(accept) / wall, 2) if wall else None,
        "ingestPeakRssMiB": rss, "ingestCpuSeconds": cpu,
        "ingestCpuSecondsPerReport": round(sum(cpu) / len(accept), 2) if accept else None,
        "loadAverage1m": [round(load_before, 1), round(load_after, 1)],
        "stored": stored, "databaseSize": size,
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2, help="reports each agent sends, back to back")
    parser.add_argument("--replicas", type=int, default=2, help="cloudios ingest processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cloudios-bench-ingest-") as work:
        result = run(args.agents, args.pods, args.rounds, args.replicas, Path(work))
    print(json.dumps(result, indent=2))
    expected = args.agents * args.rounds
    return 0 if result["errors"] == 0 and result["stored"]["agent_batches"] == expected else 1


if __name__ == "__main__":
    sys.exit(main())

"""A real Prometheus for the tests: Debian's prometheus and promtool, synthetic cAdvisor history.

`make test` installs the `prometheus` package when its binaries are missing; here a missing binary
is an error, never a skip. Synthetic containers (piecewise-constant CPU per hour, a known peak
working set per hour, optional one-sample memory spikes and pod network counters) are written as
OpenMetrics, one file per 2-hour block so promtool reads each sample once, turned into TSDB blocks
by `promtool tsdb create-blocks-from openmetrics`, and served by `prometheus` on loopback with TLS
(its own throw-away CA), compaction off and a retention long enough to keep the backfill.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import math
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.controlplane import free_port

HOUR, DAY, BLOCK = 3600, 86400, 7200
START_TIMEOUT = 60.0
SCRAPE_OFFSET = 15
"""Samples sit 15 s past each interval boundary, never on an hour, so every window holds one hour."""
COUNTER_BASE = 1e6
"""Counters start high: a counter near zero makes rate() shorten its extrapolation."""


class PrometheusMissingError(RuntimeError):
    """Debian's prometheus package is not installed (run `make test`, which installs it)."""


def tools() -> tuple[Path, Path]:
    """(prometheus, promtool) from PATH, or PrometheusMissingError naming the fix."""
    found = [shutil.which(name) for name in ("prometheus", "promtool")]
    if not all(found):
        raise PrometheusMissingError(
            "prometheus and promtool not found on PATH: run `make testdeps` (it installs Debian's "
            "prometheus package) or `apt-get install prometheus`"
        )
    return Path(str(found[0])), Path(str(found[1]))


@dataclass(frozen=True)
class Container:
    """One synthetic container's cAdvisor series."""

    namespace: str
    pod: str
    container: str
    cpu_m: Callable[[int], float]
    """hour start (unix s) -> the container's average CPU in that hour, millicores."""
    memory: Callable[[int], float]
    """hour start -> its peak working set in that hour, bytes (one sample at it, the rest 0-5 % below)."""
    start: int | None = None
    """First second the container exists (None: from the data start); hour-aligned."""
    stop: int | None = None
    memory_spikes: Mapping[int, float] = field(default_factory=dict)
    """hour start -> one sample in the middle of that hour at this value (an OOM-like peak)."""
    network_bps: float | None = None
    """Pod network (receive and transmit each) in bytes/s; set on one container per pod."""
    cpu_jitter: float = 0.0
    """Amplitude of per-sample variation of the CPU rate inside an hour (the hourly mean is kept)."""

    def alive(self, hour: int, data_start: int, data_end: int) -> bool:
        return (self.start or data_start) <= hour < (self.stop or data_end)


def _labels(c: Container) -> str:
    return f'{{namespace="{c.namespace}",pod="{c.pod}",container="{c.container}",job="kubelet"}}'


def _net_labels(c: Container) -> str:
    return f'{{namespace="{c.namespace}",pod="{c.pod}",interface="eth0",job="kubelet"}}'


def _window_lines(
    containers: Sequence[Container], w0: int, w1: int, *, span: tuple[int, int], interval: int,
    counters: dict[tuple[str, int], float],
) -> list[str]:  # fmt: skip
    per_hour = HOUR // interval
    wave = [math.sin(2 * math.pi * 3 * k / per_hour) for k in range(per_hour)]
    families: dict[str, list[str]] = {"cpu": [], "mem": [], "rx": [], "tx": []}
    for i, c in enumerate(containers):
        labels = _labels(c)
        for hour in range(w0, w1, HOUR):
            if not c.alive(hour, *span):
                continue
            rate = c.cpu_m(hour) / 1000
            peak = c.memory(hour)
            spike = c.memory_spikes.get(hour)
            cpu = counters.get(("cpu", i), COUNTER_BASE)
            for k in range(per_hour):
                ts = hour + k * interval + SCRAPE_OFFSET
                cpu += rate * interval * (1 + c.cpu_jitter * wave[k])
                families["cpu"].append(f"container_cpu_usage_seconds_total{labels} {cpu:.6f} {ts}\n")
                mem = spike if (spike is not None and k == per_hour // 2) else peak * (1 - 0.05 * (k % 7) / 6)
                families["mem"].append(f"container_memory_working_set_bytes{labels} {mem:.0f} {ts}\n")
            counters["cpu", i] = cpu
            if c.network_bps is not None:
                net = counters.get(("net", i), COUNTER_BASE)
                net_labels = _net_labels(c)
                for k in range(per_hour):
                    ts = hour + k * interval + SCRAPE_OFFSET
                    net += c.network_bps * interval
                    families["rx"].append(
                        f"container_network_receive_bytes_total{net_labels} {net:.0f} {ts}\n"
                    )
                    families["tx"].append(
                        f"container_network_transmit_bytes_total{net_labels} {net:.0f} {ts}\n"
                    )
                counters["net", i] = net
    heads = {
        "cpu": "# TYPE container_cpu_usage_seconds counter\n",
        "mem": "# TYPE container_memory_working_set_bytes gauge\n",
        "rx": "# TYPE container_network_receive_bytes counter\n",
        "tx": "# TYPE container_network_transmit_bytes counter\n",
    }
    lines = []
    for name, body in families.items():
        if body:
            lines.append(heads[name])
            lines.extend(body)
    return lines


def build_blocks(
    containers: Sequence[Container], start: int, end: int, out_dir: Path, *, interval: int = 60,
    workers: int = 2,
) -> int:  # fmt: skip
    """Write TSDB blocks for [start, end) (hour-aligned) into ``out_dir``; returns samples written."""
    _, promtool = tools()
    if start % HOUR or end % HOUR or HOUR % interval:
        raise ValueError("start and end must be whole hours and the interval must divide an hour")
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="cloudios-om-"))
    counters: dict[tuple[str, int], float] = {}
    samples = 0

    def convert(path: Path) -> None:
        subprocess.run(
            [str(promtool), "tsdb", "create-blocks-from", "openmetrics", "-q", str(path), str(out_dir)],
            check=True, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        path.unlink()

    try:
        with ThreadPoolExecutor(workers) as pool:
            pending = []
            for w0 in range(start // BLOCK * BLOCK, end, BLOCK):
                window = (max(w0, start), min(w0 + BLOCK, end))
                lines = _window_lines(
                    containers, *window, span=(start, end), interval=interval, counters=counters
                )
                if not lines:
                    continue
                samples += sum(1 for line in lines if not line.startswith("#"))
                path = scratch / f"{w0}.om"
                path.write_text("".join([*lines, "# EOF\n"]))
                pending.append(pool.submit(convert, path))
                if len(pending) > 2 * workers:
                    pending.pop(0).result()
            for job in pending:
                job.result()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return samples


# -- serving -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningPrometheus:
    url: str
    ca_file: Path | None
    pid: int
    data_dir: Path

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmHWM not found")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmRSS not found")


def _tls_files(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a serving certificate for 127.0.0.1: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudios-test-prometheus-ca")])

    def cert(subject: x509.Name, public: ec.EllipticCurvePublicKey, *, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )  # fmt: skip
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(ca_key, hashes.SHA256())

    pem = serialization.Encoding.PEM
    paths = (directory / "ca.crt", directory / "tls.crt", directory / "tls.key")
    paths[0].write_bytes(cert(ca_name, ca_key.public_key(), ca=True).public_bytes(pem))
    server = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "prometheus")])
    paths[1].write_bytes(cert(server, key.public_key(), ca=False).public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    paths[2].chmod(0o600)
    return paths


@contextlib.contextmanager
def serve(
    data_dir: Path, workdir: Path, *, tls: bool = True, compaction: bool = False,
    scrape_configs: Sequence[Mapping[str, object]] = (),
) -> Iterator[RunningPrometheus]:  # fmt: skip
    """Prometheus on 127.0.0.1 over ``data_dir``; stopped (and its log kept in ``workdir``) on exit.
    ``scrape_configs``: what it scrapes (none by default: it serves backfilled blocks)."""
    prometheus, _ = tools()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(
        json.dumps({"global": {"scrape_interval": "1h"}, "scrape_configs": list(scrape_configs)}, indent=2)
    )
    port = free_port()
    args = [
        str(prometheus), f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
        "--storage.tsdb.retention.time=3650d", f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]  # fmt: skip
    if not compaction:
        # Equal minimum and maximum block durations switch compaction off: the blocks stay as built.
        args += ["--storage.tsdb.min-block-duration=2h", "--storage.tsdb.max-block-duration=2h"]
    ca: Path | None = None
    if tls:
        ca, cert, key = _tls_files(workdir)
        web = workdir / "web.yml"
        web.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n")
        args.append(f"--web.config.file={web}")
    url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        verify = ssl.create_default_context(cafile=str(ca)) if ca else True
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited {process.returncode}: {log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/-/ready", verify=verify, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"prometheus not ready after {START_TIMEOUT} s: {log_path.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield RunningPrometheus(url, ca, process.pid, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the test cluster's history --------------------------------------------------------------------

MIB, GIB = 1024**2, 1024**3


def _by_hour(normal: float, peak: float, hours: range) -> Callable[[int], float]:
    """``peak`` during the given UTC hours of every day, ``normal`` otherwise."""
    return lambda hour: peak if (hour % DAY) // HOUR in hours else normal


@dataclass(frozen=True)
class History:
    """What the session's Prometheus holds: the containers, their data window, the sample interval."""

    containers: tuple[Container, ...]
    start: int
    end: int
    interval: int
    owners: Mapping[tuple[str, str], tuple[str, str]]
    """(namespace, pod) -> (kind, name) for the pods that exist now (the collector's answer)."""
    known: Mapping[str, Mapping[str, str]]
    """namespace -> {workload name: kind} for the workloads that exist now."""
    oom_hour: int


def synthetic_history(now: float, days: int = 6, interval: int = 60) -> History:
    """Four namespaces: a web Deployment with a midday peak and a sidecar, a batch Deployment with
    a nightly peak, a StatefulSet with one OOM-like memory spike, and pods that no longer exist."""
    end = int(now) // HOUR * HOUR - HOUR
    start = end // DAY * DAY - days * DAY
    oom_hour = start + 3 * DAY + 4 * HOUR
    web = [("web-7d9f8b6c5d-xk2lp", 2000.0), ("web-7d9f8b6c5d-q8zvw", 3000.0)]
    containers = [
        *(c for i, (pod, net) in enumerate(web) for c in (
            Container("shop", pod, "app", _by_hour(200 + 10 * i, 600, range(12, 14)),
                      _by_hour(300 * MIB, 360 * MIB, range(8, 20)), network_bps=net),
            Container("shop", pod, "proxy", lambda _h: 20.0, lambda _h: 40 * MIB),
        )),
        Container("batch", "etl-5c8d7f9b6d-tm2vz", "worker", _by_hour(50, 1800, range(1, 3)),
                  _by_hour(500 * MIB, 1536 * MIB, range(1, 3))),
        Container("data", "db-0", "postgres", lambda _h: 300.0, lambda _h: 2 * GIB,
                  memory_spikes={oom_hour: 7.5 * GIB}),
        Container("data", "db-1", "postgres", lambda _h: 320.0, lambda _h: 2 * GIB),
        Container("tools", "old-report-6f7c9d8b5b-w2kxp", "report", lambda _h: 100.0, lambda _h: 256 * MIB,
                  stop=start + 2 * DAY),
        Container("tools", "cleanup-28912345-x7k2p", "cleanup", lambda _h: 900.0, lambda _h: 128 * MIB,
                  start=start + 3 * DAY + 5 * HOUR, stop=start + 3 * DAY + 6 * HOUR),
        Container("tools", "agent-b7k2p", "agent", lambda _h: 5.0, lambda _h: 30 * MIB, stop=start + DAY),
    ]  # fmt: skip
    owners = {
        ("shop", pod): ("Deployment", "web") for pod, _ in web
    } | {("batch", "etl-5c8d7f9b6d-tm2vz"): ("Deployment", "etl"), ("data", "db-0"): ("StatefulSet", "db"),
         ("data", "db-1"): ("StatefulSet", "db")}  # fmt: skip
    known = {"shop": {"web": "Deployment"}, "batch": {"etl": "Deployment"}, "data": {"db": "StatefulSet"},
             "tools": {"agent": "DaemonSet"}}  # fmt: skip
    return History(tuple(containers), start, end, interval, owners, known, oom_hour)


@pytest.fixture(scope="session")
def history_prometheus(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningPrometheus, History]]:
    """The test history backfilled into blocks and served over TLS, once per session."""
    root = tmp_path_factory.mktemp("prometheus")
    history = synthetic_history(time.time())
    build_blocks(history.containers, history.start, history.end, root / "data", interval=history.interval)
    with serve(root / "data", root / "run") as running:
        yield running, history

"""The agent's own counters in Prometheus text format, and /healthz, served by the standard library.

Plain HTTP: the listener serves only counters and a liveness answer (no inventory, no token), so
the kubelet's httpGet probe and a Prometheus scrape reach it on the pod port; the chart's
NetworkPolicy decides who may connect.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

COUNTERS = {
    "samples_total": "Container usage samples taken from metrics.k8s.io.",
    "sample_errors_total": "Failed reads of metrics.k8s.io.",
    "cycles_total": "Sampling cycles run.",
    "inventories_total": "Inventory snapshots built.",
    "batches_sent_total": "Batches ingest accepted.",
    "batches_dropped_total": "Batches dropped, oldest first, because the queue was full.",
    "batches_rejected_total": "Batches ingest refused (401/403/400/413) and that were not retried.",
    "send_errors_total": "Send attempts that failed and will be retried.",
    "flush_bytes_sum": "Compressed bytes of the batches ingest accepted.",
    "flush_bytes_count": "Number of the batches counted in flush_bytes_sum.",
    "history_rows_total": "Usage rows read from Prometheus history and queued.",
    "history_queries_total": "Queries the history backfill sent to Prometheus.",
    "history_failures_total": "History queries that failed (the backfill resumes on the next start).",
}
GAUGES = {
    "batches_queued": "Batches waiting to be sent.",
    "queued_bytes": "Compressed bytes waiting to be sent.",
    "last_flush_bytes": "Compressed bytes of the last batch ingest accepted.",
    "last_success_timestamp_seconds": "Unix time of the last batch ingest accepted (0: none yet).",
    "resident_memory_bytes": "Resident set size of the agent process.",
}
PREFIX = "cloudios_agent_"


def resident_bytes() -> int:
    """This process's RSS from /proc (0 where /proc is absent)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    import resource  # noqa: PLC0415 - POSIX only, needed only here

    return pages * resource.getpagesize()


class Telemetry:
    """Thread-safe counters and gauges; labelled gauges come from callbacks at scrape time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float] = dict.fromkeys([*COUNTERS, *GAUGES], 0.0)
        self._labelled: list[tuple[str, str, Callable[[], dict[str, float]]]] = []
        self._beat = time.monotonic()

    def inc(self, name: str, amount: float = 1.0) -> None:
        with self._lock:
            self._values[name] += amount

    def set(self, name: str, value: float) -> None:
        with self._lock:
            self._values[name] = value

    def get(self, name: str) -> float:
        with self._lock:
            return self._values[name]

    def labelled(self, name: str, help_text: str, read: Callable[[], dict[str, float]]) -> None:
        """A gauge family ``name{resource="..."}`` read at scrape time."""
        self._labelled.append((name, help_text, read))

    def heartbeat(self) -> None:
        self._beat = time.monotonic()

    def alive(self, stale_after: float) -> bool:
        return time.monotonic() - self._beat < stale_after

    def render(self) -> str:
        self.set("resident_memory_bytes", resident_bytes())
        lines: list[str] = []
        with self._lock:
            values = dict(self._values)
        for table, kind in ((COUNTERS, "counter"), (GAUGES, "gauge")):
            for name, help_text in table.items():
                # The *_sum/_count pair is one summary family in Prometheus' eyes; typed untyped here.
                typ = "untyped" if name.startswith("flush_bytes_") else kind
                lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} {typ}"]
                lines.append(f"{PREFIX}{name} {values[name]:.17g}")
        for name, help_text, read in self._labelled:
            lines += [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} gauge"]
            lines += [f'{PREFIX}{name}{{resource="{k}"}} {v:.17g}' for k, v in sorted(read().items())]
        return "\n".join(lines) + "\n"


def serve(telemetry: Telemetry, host: str, port: int, *, stale_after: float) -> ThreadingHTTPServer:
    """Start /healthz and /metrics on ``host:port`` in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "cloudios-agent"
        sys_version = ""

        def do_GET(self) -> None:
            if self.path == "/healthz":
                ok = telemetry.alive(stale_after)
                self._reply(200 if ok else 503, "ok\n" if ok else "sampling loop stalled\n")
            elif self.path == "/metrics":
                self._reply(200, telemetry.render(), "text/plain; version=0.0.4")
            else:
                self._reply(404, "not found\n")

        def _reply(self, status: int, text: str, content_type: str = "text/plain") -> None:
            body = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            """Probes every few seconds would flood the log: say nothing."""

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server

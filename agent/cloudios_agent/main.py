"""Entry point of the cloudios-agent command: settings from flags or environment, then the loop."""

# ruff: noqa: E402 - the httpx guard below must run before anything imports httpx

from __future__ import annotations

import sys

# httpx imports its optional command line (rich, click, pygments: about 7 MiB resident) whenever
# they are installed, as they are beside the operator in the one distribution. The agent never
# uses it; a None entry makes that import fail fast, and httpx then skips its CLI.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import argparse
import contextlib
import ctypes
import logging
import os
import re
import signal
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from cloudios_agent import __version__
from cloudios_agent.collect import Collector
from cloudios_agent.health import Telemetry, serve
from cloudios_agent.history import MAX_DAYS, Backfill, BackfillSettings
from cloudios_agent.history_query import PrometheusClient, PrometheusSource
from cloudios_agent.kube import KubeClient
from cloudios_agent.kubeconfig import ConfigError, from_kubeconfig, in_cluster
from cloudios_agent.loop import Agent, backfill_history
from cloudios_agent.send import Sender
from cloudios_agent.usage import metrics_api

ENV = "CLOUDIOS_AGENT_"
EXIT_USAGE = 2
log = logging.getLogger("cloudios_agent")


class UsageError(ValueError):
    """A bad setting; the message names the flag, its variable and the fix."""


@dataclass(frozen=True)
class History:
    """The optional history source: where Prometheus is, and how the first-start backfill reads it."""

    source: PrometheusSource
    backfill: BackfillSettings


@dataclass(frozen=True)
class Settings:
    ingest_url: str
    token_file: Path
    ca_file: Path | None
    kubeconfig: Path | None
    sample_seconds: float
    inventory_seconds: float
    spool_dir: Path | None
    health_host: str
    health_port: int
    queue_batches: int
    log_level: str
    history: History | None = None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cloudios-agent",
        description="Reports workload metadata and usage of this cluster to Cloudios ingest (read-only).",
        epilog=f"Every flag can also be set as {ENV}<FLAG> (e.g. {ENV}INGEST_URL); flags win.",
    )
    p.add_argument("--version", action="version", version=f"cloudios-agent {__version__}")
    p.add_argument("--ingest-url", help="https:// URL of Cloudios ingest")
    p.add_argument("--token-file", help="file holding the cluster token (mounted from its Secret)")
    p.add_argument("--ca-file", help="PEM bundle: the only CAs trusted for ingest (default: system store)")
    p.add_argument("--kubeconfig", help="JSON kubeconfig (default: the pod's ServiceAccount)")
    p.add_argument("--sample-seconds", help="seconds between metrics.k8s.io samples (default 30)")
    p.add_argument("--inventory-seconds", help="seconds between inventory reports (default 300)")
    p.add_argument(
        "--spool-dir", help="directory (an emptyDir) that holds queued batches while ingest is down"
    )
    p.add_argument("--health-host", help="address of /healthz and /metrics (default 0.0.0.0)")
    p.add_argument("--health-port", help="port of /healthz and /metrics, 0 to disable (default 8080)")
    p.add_argument("--queue-batches", help="batches kept while ingest is down (default 64)")
    p.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    h = p.add_argument_group("history", "optional first-start backfill of cAdvisor usage from Prometheus")
    h.add_argument("--prometheus-url", help="http(s):// URL of Prometheus (unset: no backfill)")
    h.add_argument("--prometheus-ca-file", help="PEM bundle that signed an https Prometheus's certificate")
    h.add_argument("--prometheus-token-file", help="bearer token file for Prometheus (https only)")
    h.add_argument("--history-days", help=f"days to backfill, 1-{MAX_DAYS} (default {MAX_DAYS})")
    h.add_argument("--history-concurrency", help="range queries in flight, 1-8 (default 2)")
    h.add_argument("--history-selector", help='extra label matchers, e.g. job="kubelet" (no braces)')
    return p


def variables() -> frozenset[str]:
    """Every environment variable the agent reads: one per flag."""
    defaults = vars(_parser().parse_args([]))  # one attribute per flag, --help and --version aside
    return frozenset(ENV + dest.upper() for dest in defaults)


def _value(
    args: argparse.Namespace, env: Mapping[str, str], name: str, default: str | None = None
) -> str | None:
    flag = getattr(args, name.replace("-", "_"))
    return flag if flag is not None else env.get(ENV + name.upper().replace("-", "_"), default)


def _where(name: str) -> str:
    return f"--{name} ({ENV}{name.upper().replace('-', '_')})"


def _number(args: argparse.Namespace, env: Mapping[str, str], name: str, default: str, low: float) -> float:
    raw = _value(args, env, name, default) or default
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{_where(name)} must be a number of seconds, got {raw[:40]!r}") from None
    if not low <= value <= 86_400:  # noqa: PLR2004
        raise UsageError(f"{_where(name)} must be between {low:g} and 86400, got {raw[:40]}")
    return value


def _existing_file(args: argparse.Namespace, env: Mapping[str, str], name: str, hint: str) -> Path | None:
    raw = _value(args, env, name)
    if not raw:
        return None
    path = Path(raw)
    if not path.is_file() or not os.access(path, os.R_OK):
        raise UsageError(f"{_where(name)}: {path} is not a readable file; {hint}")
    return path


def _whole(args: argparse.Namespace, env: Mapping[str, str], name: str, default: int, high: int) -> int:
    raw = _value(args, env, name, str(default)) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= high:
        raise UsageError(f"{_where(name)} must be a whole number 1-{high}, got {raw[:20]!r}")
    return int(raw)


def _history(args: argparse.Namespace, env: Mapping[str, str]) -> History | None:
    url = _value(args, env, "prometheus-url")
    if not url:
        return None
    ca = _existing_file(args, env, "prometheus-ca-file", "mount the Prometheus CA bundle and point here")
    token = _existing_file(args, env, "prometheus-token-file", "mount the token and point here")
    if urlsplit(url).username or urlsplit(url).password:
        raise UsageError(
            f"{_where('prometheus-url')} must not carry credentials; give a --prometheus-token-file"
        )
    try:
        source = PrometheusSource(url, ca_file=ca, token_file=token)
    except ValueError as exc:
        raise UsageError(f"{_where('prometheus-url')}: {exc}") from None
    days = _whole(args, env, "history-days", MAX_DAYS, MAX_DAYS)
    concurrency = _whole(args, env, "history-concurrency", 2, 8)
    selector = _value(args, env, "history-selector", "") or ""
    try:
        backfill = BackfillSettings(days=days, concurrency=concurrency, selector=selector)
    except ValueError as exc:
        raise UsageError(f"{_where('history-selector')}: {exc}") from None
    return History(source, backfill)


def parse_settings(argv: Sequence[str], env: Mapping[str, str]) -> Settings:
    args = _parser().parse_args(list(argv))
    url = _value(args, env, "ingest-url") or ""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise UsageError(
            f"{_where('ingest-url')} must be an https:// URL, e.g. https://ingest.example.com:8443"
        )
    if parts.username or parts.password or parts.query:
        raise UsageError(
            f"{_where('ingest-url')} must not carry credentials or a query; give the token in --token-file"
        )
    token = _existing_file(args, env, "token-file", "mount the cluster token Secret and point here")
    if token is None:
        raise UsageError(f"{_where('token-file')} is required: the file holding the cluster token")
    if not token.read_text().strip():
        raise UsageError(f"{_where('token-file')}: {token} is empty; put the cluster token in it")
    sample = _number(args, env, "sample-seconds", "30", 1.0)
    inventory = _number(args, env, "inventory-seconds", "300", 1.0)
    spool = _value(args, env, "spool-dir")
    if spool and not (Path(spool).is_dir() and os.access(spool, os.W_OK | os.X_OK)):
        raise UsageError(
            f"{_where('spool-dir')}: {spool} is not a writable directory; mount an emptyDir there"
        )
    port_raw = _value(args, env, "health-port", "8080") or "8080"
    if not port_raw.isdigit() or int(port_raw) > 65535:  # noqa: PLR2004
        raise UsageError(
            f"{_where('health-port')} must be a port number 0-65535 (0 disables), got {port_raw[:20]!r}"
        )
    batches_raw = _value(args, env, "queue-batches", "64") or "64"
    if not batches_raw.isdigit() or not 1 <= int(batches_raw) <= 10_000:  # noqa: PLR2004
        raise UsageError(
            f"{_where('queue-batches')} must be a whole number 1-10000, got {batches_raw[:20]!r}"
        )
    level = (_value(args, env, "log-level", "INFO") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise UsageError(f"{_where('log-level')} must be DEBUG, INFO, WARNING or ERROR")
    return Settings(
        ingest_url=url,
        token_file=token,
        ca_file=_existing_file(args, env, "ca-file", "mount the ingest CA bundle and point here"),
        kubeconfig=_existing_file(args, env, "kubeconfig", "give a JSON kubeconfig or run in a pod"),
        sample_seconds=sample,
        inventory_seconds=inventory,
        spool_dir=Path(spool) if spool else None,
        health_host=_value(args, env, "health-host", "0.0.0.0") or "0.0.0.0",  # noqa: S104 - the kubelet probes the pod IP
        health_port=int(port_raw),
        queue_batches=int(batches_raw),
        log_level=level,
        history=_history(args, env),
    )


class SanitizingFormatter(logging.Formatter):
    """Formats, then removes anything that looks like a credential (tracebacks included)."""

    _BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._secrets = [s for s in secrets if len(s) >= 8]  # noqa: PLR2004

    def format(self, record: logging.LogRecord) -> str:
        text = self._BEARER.sub(r"\1[redacted]", super().format(record))
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def fewer_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before any thread starts.

    glibc gives each allocating thread an arena of its own (up to 8 per core); with a watch thread
    per kind that left about 9 MiB resident in half-empty arenas (bench/agent.py: 64 -> 55 MiB).
    Two are plenty for threads that mostly wait. Not glibc (musl, macOS): nothing to do.
    """
    m_arena_max = -8  # from glibc's malloc.h
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(m_arena_max, arenas)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the agent until SIGTERM; 2 on a bad setting, with a message naming the flag and the fix."""
    try:
        settings = parse_settings(sys.argv[1:] if argv is None else argv, os.environ)
        config = from_kubeconfig(settings.kubeconfig) if settings.kubeconfig else in_cluster()
    except (UsageError, ConfigError) as exc:
        where = "" if isinstance(exc, UsageError) else f"{_where('kubeconfig')}: "
        sys.stderr.write(f"cloudios-agent: {where}{exc}\n")
        return EXIT_USAGE
    fewer_malloc_arenas()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SanitizingFormatter([settings.token_file.read_text().strip()]))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry every request URL

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    telemetry = Telemetry()
    try:
        sender = Sender(
            settings.ingest_url,
            settings.token_file,
            telemetry,
            ca_file=settings.ca_file,
            spool_dir=settings.spool_dir,
            max_batches=settings.queue_batches,
        )
    except ssl.SSLError:
        sys.stderr.write(f"cloudios-agent: {_where('ca-file')}: not a PEM CA bundle; give the ingest CA\n")
        return EXIT_USAGE
    client = KubeClient(config)
    collector = Collector(client)
    telemetry.labelled(
        "objects",
        "Objects held in the watch cache, by resource.",
        lambda: {k: len(r) for k, r in collector.reflectors.items()},
    )
    telemetry.labelled(
        "relists",
        "Lists after a 410 Gone, by resource.",
        lambda: {k: r.gone for k, r in collector.reflectors.items()},
    )
    server = None
    if settings.health_port:
        server = serve(
            telemetry,
            settings.health_host,
            settings.health_port,
            stale_after=3 * settings.sample_seconds + 60,
        )
    agent = Agent(
        collector,
        metrics_api(client.get_text),
        sender,
        telemetry,
        sample_seconds=settings.sample_seconds,
        inventory_seconds=settings.inventory_seconds,
    )
    log.info(
        "cloudios-agent %s: stream %s, ingest %s",
        __version__,
        sender.stream,
        urlsplit(settings.ingest_url).netloc,
    )
    collector.start(stop)
    while not stop.is_set() and not collector.wait_synced(1.0):
        telemetry.heartbeat()  # the first lists of a large cluster take a while: still alive
    send_thread = threading.Thread(target=sender.run, args=(stop,), name="send", daemon=True)
    send_thread.start()
    history = _start_history(settings, collector, sender, telemetry, stop)
    agent.run(stop)
    if history is not None:
        history.join(5.0)
    sender.wake()
    send_thread.join(5.0)
    sender.drain(5.0)
    if server is not None:
        server.shutdown()
    sender.close()
    client.close()
    return 0


def _start_history(
    settings: Settings, collector: Collector, sender: Sender, telemetry: Telemetry, stop: threading.Event
) -> threading.Thread | None:
    """The backfill on a thread of its own, once the watches are synced: sampling never waits for it."""
    if settings.history is None:
        return None
    backfill = Backfill(
        PrometheusClient(settings.history.source),
        settings.history.backfill,
        owner=collector.pod_workload,
        known=collector.known_workloads,
        spool_dir=settings.spool_dir,
    )
    thread = threading.Thread(
        target=backfill_history,
        args=(backfill, sender, telemetry, stop),
        kwargs={
            "namespaces": [n.name for n in collector.reflectors["namespaces"].snapshot()],
            "pod_counts": collector.pod_counts(),
            "pace_batches": max(1, settings.queue_batches // 2),
        },
        name="history",
        daemon=True,
    )
    thread.start()
    return thread


if __name__ == "__main__":
    raise SystemExit(main())

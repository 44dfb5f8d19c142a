"""Transport to ingest: numbered gzip batches over TLS 1.3, a bounded queue, backoff with full jitter.

``submit`` never blocks: it numbers the batch (``stream`` is random per process start, ``sequence``
counts from 1), encodes and gzips it once, and queues the bytes; when the queue is full the
oldest batch is dropped and counted (``droppedBatches`` in the next report). A sender thread
posts the head of the queue; a retried batch is sent byte for byte again, so ingest stores it once.
With a spool directory (an emptyDir) queued batches live in 0600 files instead of memory, and a
restarted agent sends what its predecessor left.
"""

from __future__ import annotations

import gzip
import logging
import os
import secrets
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from cloudios_agent import __version__, wire
from cloudios_agent.health import Telemetry
from cloudios_agent.kube import backoff

log = logging.getLogger(__name__)

MAX_BATCHES = 64
MAX_QUEUED_BYTES = 16 * 1024 * 1024
RETRY_AFTER_CAP = 3600.0
BACKOFF_BASE, BACKOFF_CAP = 1.0, 300.0
DROP_STATUSES = frozenset({400, 404, 405, 413, 415, 422})
AUTH_STATUSES = frozenset({401, 403})
TOO_MANY = 429


@dataclass
class Batch:
    sequence: int
    size: int
    body: bytes | None = None
    path: Path | None = None

    def read(self) -> bytes:
        if self.body is not None:
            return self.body
        assert self.path is not None
        return self.path.read_bytes()

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def ingest_tls(ca_file: Path | None) -> ssl.SSLContext:
    """TLS 1.3 minimum; trusts only ``ca_file`` when given (the system store otherwise)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    else:
        context.load_default_certs()
    return context


class Sender:
    """The queue and the thread that empties it into ingest."""

    def __init__(
        self,
        url: str,
        token_file: Path,
        telemetry: Telemetry,
        *,
        ca_file: Path | None = None,
        spool_dir: Path | None = None,
        max_batches: int = MAX_BATCHES,
        max_bytes: int = MAX_QUEUED_BYTES,
        timeout: float = 30.0,
    ) -> None:
        self.url = url.rstrip("/") + wire.PATH
        self.stream = secrets.token_hex(8)
        self._token_file = token_file
        self._telemetry = telemetry
        self._spool = spool_dir
        self._max_batches, self._max_bytes = max_batches, max_bytes
        self._queue: deque[Batch] = deque()
        self._queued_bytes = 0
        self._sequence = 0
        self.dropped = 0
        self._cond = threading.Condition()
        self._client = httpx.Client(
            verify=ingest_tls(ca_file),
            timeout=httpx.Timeout(timeout),
            trust_env=False,
            headers={"User-Agent": f"cloudios-agent/{__version__}"},
        )
        if spool_dir is not None:
            self._recover(spool_dir)

    # -- producer side: never blocks on the network ------------------------------------------

    def submit(self, inventory: wire.Inventory | None, usage: tuple[wire.ContainerUsage, ...] = ()) -> int:
        """Number, encode and queue one report; returns its sequence."""
        with self._cond:
            self._sequence += 1
            sequence, dropped = self._sequence, self.dropped
        report = wire.Report(
            stream=self.stream,
            sequence=sequence,
            sent_at=datetime.now(UTC).replace(microsecond=0),
            agent_version=__version__,
            inventory=inventory,
            usage=usage,
            dropped_batches=dropped,
        )
        body = gzip.compress(wire.encode_report(report), compresslevel=6, mtime=0)
        batch = Batch(sequence, len(body))
        if self._spool is not None:
            batch.path = self._write_spool(
                f"{time.time_ns():020d}-{self.stream}-{sequence:012d}.json.gz", body
            )
        else:
            batch.body = body
        with self._cond:
            self._queue.append(batch)
            self._queued_bytes += batch.size
            while len(self._queue) > 1 and (
                len(self._queue) > self._max_batches or self._queued_bytes > self._max_bytes
            ):
                oldest = self._queue.popleft()
                self._queued_bytes -= oldest.size
                oldest.discard()
                self.dropped += 1
                self._telemetry.inc("batches_dropped_total")
                log.warning("queue full: dropped batch %d (%d dropped so far)", oldest.sequence, self.dropped)
            self._gauges()
            self._cond.notify()
        return sequence

    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    # -- consumer side ------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        """Send until ``stop`` is set."""
        attempt = 0
        while not stop.is_set():
            with self._cond:
                while not self._queue and not stop.is_set():
                    self._cond.wait(1.0)
                if stop.is_set():
                    return
                batch = self._queue[0]
            delay = self._send(batch, attempt)
            if delay is None:
                attempt = 0
                continue
            attempt += 1
            stop.wait(delay)

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def send_next(self, attempt: int = 0) -> float | None:
        """Post the head of the queue once: None when it left the queue (or it is empty), else the delay."""
        with self._cond:
            if not self._queue:
                return None
            batch = self._queue[0]
        return self._send(batch, attempt)

    def drain(self, timeout: float) -> None:
        """Try to send what is queued within ``timeout`` (on shutdown); the spool keeps the rest."""
        deadline = time.monotonic() + timeout
        while self.queued() and time.monotonic() < deadline:
            if self.send_next() is not None:
                return

    def close(self) -> None:
        self._client.close()

    def _send(self, batch: Batch, attempt: int) -> float | None:
        """Post one batch; None when it left the queue (sent or refused), else seconds to wait."""
        try:
            token = self._token_file.read_text().strip()
        except OSError as exc:
            log.error("cannot read the token file %s: %s", self._token_file, exc.strerror)  # noqa: TRY400
            return backoff(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)
        try:
            body = batch.read()
        except OSError as exc:
            log.error("spooled batch %d is unreadable (%s); dropped", batch.sequence, exc.strerror)  # noqa: TRY400
            self._done(batch, rejected=True)
            return None
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            self._telemetry.inc("send_errors_total")
            delay = backoff(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)
            log.warning(
                "ingest unreachable (%s: %s); batch %d retried in %.1fs",
                type(exc).__name__,
                str(exc)[:200],
                batch.sequence,
                delay,
            )
            return delay
        return self._answered(batch, response, attempt)

    def _answered(self, batch: Batch, response: httpx.Response, attempt: int) -> float | None:
        status = response.status_code
        if 200 <= status < 300:  # noqa: PLR2004
            self._done(batch)
            self._telemetry.inc("batches_sent_total")
            self._telemetry.inc("flush_bytes_sum", batch.size)
            self._telemetry.inc("flush_bytes_count")
            self._telemetry.set("last_flush_bytes", batch.size)
            self._telemetry.set("last_success_timestamp_seconds", time.time())
            return None
        message = _printable(response.text)
        if status in AUTH_STATUSES:
            self._done(batch, rejected=True)
            log.error(
                "ingest refused the cluster token (HTTP %d): batch %d dropped; check the token Secret (%s)",
                status, batch.sequence, message,
            )  # fmt: skip
            return backoff(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)
        if status in DROP_STATUSES:
            self._done(batch, rejected=True)
            log.error("ingest refused batch %d (HTTP %d): %s; dropped", batch.sequence, status, message)
            return None
        self._telemetry.inc("send_errors_total")
        delay = backoff(attempt, base=BACKOFF_BASE, cap=BACKOFF_CAP)
        if status == TOO_MANY:
            delay = _retry_after(response.headers.get("Retry-After"), delay)
        log.warning("ingest answered HTTP %d for batch %d; retrying in %.1fs", status, batch.sequence, delay)
        return delay

    def _done(self, batch: Batch, *, rejected: bool = False) -> None:
        with self._cond:
            if self._queue and self._queue[0] is batch:
                self._queue.popleft()
                self._queued_bytes -= batch.size
            self._gauges()
        batch.discard()
        if rejected:
            self._telemetry.inc("batches_rejected_total")

    def _gauges(self) -> None:
        self._telemetry.set("batches_queued", len(self._queue))
        self._telemetry.set("queued_bytes", self._queued_bytes)

    # -- spool --------------------------------------------------------------------------------

    def _write_spool(self, name: str, body: bytes) -> Path:
        assert self._spool is not None
        final = self._spool / name
        tmp = final.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        tmp.replace(final)
        return final

    def _recover(self, spool: Path) -> None:
        spool.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in spool.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        for path in sorted(spool.glob("*.json.gz")):
            try:
                sequence = int(path.name.split("-")[-1].split(".")[0])
                size = path.stat().st_size
            except (ValueError, OSError):
                path.unlink(missing_ok=True)
                continue
            self._queue.append(Batch(sequence, size, path=path))
            self._queued_bytes += size
        if self._queue:
            log.info("spool: %d batches left by a previous run will be sent first", len(self._queue))


def _retry_after(value: str | None, default: float) -> float:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped; ``default`` if unusable."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds()
        except (TypeError, ValueError):
            return default
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _printable(text: str) -> str:
    """Ingest's message for a log line: printable, short."""
    return "".join(c if c.isprintable() else " " for c in text[:300]).strip()

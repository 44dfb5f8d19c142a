"""Agent transport over real TLS: TLS 1.3 only, numbered gzip batches, a bounded queue, ingest's answers."""

from __future__ import annotations

import logging
import ssl
import stat
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cloudios_agent import wire
from cloudios_agent.health import Telemetry
from cloudios_agent.send import Sender
from tests.support.ingest_standin import IngestStandIn

TOKEN = "ccat_test_" + "t0k3n" * 8
NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def ingest(tmp_path: Path) -> Iterator[IngestStandIn]:
    standin = IngestStandIn(tmp_path / "ingest", TOKEN).start()
    yield standin
    standin.stop()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


def _inventory(n: int = 1) -> wire.Inventory:
    return wire.Inventory(taken_at=NOW, namespaces=tuple(wire.Namespace(f"ns-{i}", NOW) for i in range(n)))


def test_a_tls_12_only_ingest_is_refused(
    tmp_path: Path, token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = IngestStandIn(tmp_path / "old", TOKEN, tls_max=ssl.TLSVersion.TLSv1_2).start()
    try:
        sender = Sender(old.url, token_file, Telemetry(), ca_file=old.ca_file)
        sender.submit(_inventory())
        with caplog.at_level(logging.WARNING):
            delay = sender.send_next()
        assert delay is not None  # kept for a retry, not sent
        assert sender.queued() == 1
        assert old.received == []
        assert "ConnectError" in caplog.text
        assert "TLSV1_ALERT_PROTOCOL_VERSION" in caplog.text or "protocol version" in caplog.text.lower()
    finally:
        old.stop()


def test_an_untrusted_ca_is_refused(ingest: IngestStandIn, tmp_path: Path, token_file: Path) -> None:
    other = IngestStandIn(tmp_path / "other", TOKEN).start()  # a different test CA
    try:
        sender = Sender(ingest.url, token_file, Telemetry(), ca_file=other.ca_file)
        sender.submit(_inventory())
        assert sender.send_next() is not None
        assert ingest.received == []
    finally:
        other.stop()


def test_batches_are_numbered_gzipped_and_replayed_byte_for_byte(
    ingest: IngestStandIn, token_file: Path
) -> None:
    telemetry = Telemetry()
    sender = Sender(ingest.url, token_file, telemetry, ca_file=ingest.ca_file)
    assert sender.submit(_inventory()) == 1
    assert sender.submit(_inventory(2)) == 2
    ingest.answer(503)
    assert sender.send_next() is not None  # 503: kept at the head, retried
    assert sender.send_next() is None
    assert sender.send_next() is None
    got = ingest.received
    assert [r.status for r in got] == [503, 202, 202]
    assert got[0].body == got[1].body  # the replay is the same bytes: ingest stores it once
    reports = [wire.parse_report(r.report()) for r in got]
    assert [(r.stream, r.sequence) for r in reports] == [
        (sender.stream, 1),
        (sender.stream, 1),
        (sender.stream, 2),
    ]
    assert all(r.content_encoding == "gzip" and r.authorized and r.path == wire.PATH for r in got)
    assert telemetry.get("batches_sent_total") == 2
    assert telemetry.get("flush_bytes_count") == 2
    assert telemetry.get("flush_bytes_sum") == sum(len(r.body) for r in got[1:])
    assert telemetry.get("last_success_timestamp_seconds") > 0
    again = Sender(ingest.url, token_file, Telemetry(), ca_file=ingest.ca_file)
    assert again.stream != sender.stream  # a new process start is a new stream, counting from 1 again
    assert again.submit(None) == 1


def test_a_full_queue_drops_the_oldest_counts_it_and_reports_it(
    ingest: IngestStandIn, token_file: Path
) -> None:
    telemetry = Telemetry()
    sender = Sender(ingest.url, token_file, telemetry, ca_file=ingest.ca_file, max_batches=3)
    for _ in range(5):
        sender.submit(_inventory())  # ingest "down": nothing is sending; submit never blocks
    assert sender.queued() == 3
    assert sender.dropped == 2
    assert telemetry.get("batches_dropped_total") == 2
    assert telemetry.get("batches_queued") == 3
    sender.submit(_inventory())
    while sender.queued():
        assert sender.send_next() is None
    reports = [wire.parse_report(r.report()) for r in ingest.received]
    assert [r.sequence for r in reports] == [4, 5, 6]  # 1, 2 and 3 were dropped, oldest first
    # A report carries the drops known when it was made (each arrival then drops the oldest).
    assert [r.dropped_batches for r in reports] == [0, 1, 2]
    sender.submit(None)
    assert sender.send_next() is None
    assert wire.parse_report(ingest.received[-1].report()).dropped_batches == 3


def test_401_stops_that_batch_loudly_without_the_token_and_the_next_batch_goes(
    ingest: IngestStandIn, token_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    telemetry = Telemetry()
    sender = Sender(ingest.url, token_file, telemetry, ca_file=ingest.ca_file)
    sender.submit(_inventory())
    sender.submit(_inventory())
    ingest.answer(401, message="unknown cluster token")
    with caplog.at_level(logging.INFO):
        delay = sender.send_next()
    assert delay is not None  # a pause before the next batch, but this one is gone
    assert sender.queued() == 1
    assert telemetry.get("batches_rejected_total") == 1
    assert "refused the cluster token (HTTP 401)" in caplog.text
    assert TOKEN not in caplog.text
    assert sender.send_next() is None
    assert [wire.parse_report(r.report()).sequence for r in ingest.received] == [1, 2]


@pytest.mark.parametrize("status", [400, 413])
def test_400_and_413_drop_the_batch_and_log_ingests_message(
    ingest: IngestStandIn, token_file: Path, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    sender = Sender(ingest.url, token_file, Telemetry(), ca_file=ingest.ca_file)
    sender.submit(_inventory())
    ingest.answer(status, message="inventory.pods[3].node: is longer than 253 characters")
    with caplog.at_level(logging.ERROR):
        assert sender.send_next() is None
    assert sender.queued() == 0
    assert f"HTTP {status}" in caplog.text
    assert "inventory.pods[3].node" in caplog.text


def test_429_honours_retry_after(ingest: IngestStandIn, token_file: Path) -> None:
    sender = Sender(ingest.url, token_file, Telemetry(), ca_file=ingest.ca_file)
    sender.submit(_inventory())
    ingest.answer(429, headers={"Retry-After": "7"})
    assert sender.send_next() == 7.0
    assert sender.queued() == 1


def test_the_sender_thread_retries_until_ingest_is_back(ingest: IngestStandIn, token_file: Path) -> None:
    sender = Sender(ingest.url, token_file, Telemetry(), ca_file=ingest.ca_file)
    ingest.answer(503)
    sender.submit(_inventory())
    stop = threading.Event()
    thread = threading.Thread(target=sender.run, args=(stop,), daemon=True)
    thread.start()
    try:
        got = ingest.wait_for(2, timeout=15)  # backoff with full jitter: at most 2 s after the first try
        assert [r.status for r in got] == [503, 202]
    finally:
        stop.set()
        sender.wake()
        thread.join(5)


def test_the_spool_keeps_batches_in_0600_files_and_a_restart_sends_them(
    ingest: IngestStandIn, token_file: Path, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir(mode=0o700)
    first = Sender(ingest.url, token_file, Telemetry(), ca_file=ingest.ca_file, spool_dir=spool)
    first.submit(_inventory())
    first.submit(_inventory(3))
    files = sorted(spool.iterdir())
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    # The process dies with ingest down; the next one (a new stream) sends the old batches first.
    second = Sender(ingest.url, token_file, Telemetry(), ca_file=ingest.ca_file, spool_dir=spool)
    second.submit(_inventory(2))
    while second.queued():
        assert second.send_next() is None
    reports = [wire.parse_report(r.report()) for r in ingest.received]
    assert [(r.stream, r.sequence) for r in reports] == [
        (first.stream, 1),
        (first.stream, 2),
        (second.stream, 1),
    ]
    assert list(spool.iterdir()) == []

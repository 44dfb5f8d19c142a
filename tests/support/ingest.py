"""A real `cloudios ingest` process (agent reports only) for e2e tests and benchmarks."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from cloudios.security import tls
from cloudios_agent import wire
from tests.support.controlplane import free_port

KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")


@dataclass
class IngestProcess:
    url: str
    ca_file: Path
    log: Path
    process: subprocess.Popen[bytes]

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(verify=tls.client_context(self.ca_file), timeout=60, **kwargs)  # type: ignore[arg-type]

    def post(self, client: httpx.Client, token: str, body: bytes) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        return client.post(f"{self.url}{wire.PATH}", content=body, headers=headers)

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@contextlib.contextmanager
def running_ingest(
    workdir: Path, env: Mapping[str, str], *, serve: str = "reports"
) -> Iterator[IngestProcess]:
    """`python -m cloudios.cli.main ingest --serve ...` on a free loopback port with a test CA;
    ``env`` names the store (CLOUDIOS_DATA_DIR or CLOUDIOS_DATABASE_URL ...) and any settings."""
    certs = tls.generate_certificate(workdir / "ingest-tls", ["127.0.0.1"])
    port = free_port()
    full = {
        **{k: v for k, v in os.environ.items() if k in KEEP},
        "CLOUDIOS_INGEST_ADDR": "127.0.0.1",
        "CLOUDIOS_INGEST_CERT_FILE": str(certs.cert_file),
        "CLOUDIOS_INGEST_KEY_FILE": str(certs.key_file),
        **env,
    }
    log = workdir / "ingest.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "cloudios.cli.main", "ingest", "--serve", serve, "--port", str(port)],
            env=full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    ingest = IngestProcess(f"https://127.0.0.1:{port}", certs.ca_file, log, process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cloudios ingest exited: {ingest.text()}")
            with contextlib.suppress(httpx.TransportError), ingest.client() as client:
                if client.get(f"{ingest.url}/healthz").status_code == httpx.codes.OK:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cloudios ingest did not start: {ingest.text()}")
            time.sleep(0.2)
        yield ingest
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

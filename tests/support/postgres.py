"""A real PostgreSQL for the tests: Debian's server binaries, a private cluster on loopback per session.

`make test` installs the `postgresql` package when its binaries are missing; here a missing server
is an error, never a skip. The cluster runs as the `postgres` OS user (the server refuses root),
listens on 127.0.0.1 on a free port with scram-sha-256 passwords, and is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.controlplane import free_port

START_TIMEOUT = 60.0


class PostgresMissingError(RuntimeError):
    """The PostgreSQL server binaries are not installed (run `make test`, which installs them)."""


@dataclass(frozen=True)
class Postgres:
    """A running server: superuser URL parts and helpers to make databases."""

    host: str
    port: int
    superuser: str
    password: str
    bin_dir: Path

    def url(self, database: str = "postgres", *, user: str | None = None, password: str | None = None) -> str:
        who = user or self.superuser
        secret = password if user else self.password
        return f"postgresql+psycopg://{who}:{secret}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A fresh empty database; returns its name."""
        database = name or f"t_{secrets.token_hex(4)}"
        self.psql("postgres", f'CREATE DATABASE "{database}"')
        return database

    def psql(self, database: str, sql: str) -> str:
        done = subprocess.run(
            [str(self.bin_dir / "psql"), "-h", self.host, "-p", str(self.port), "-U", self.superuser,
             "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
            env={**os.environ, "PGPASSWORD": self.password},
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout


def server_bin_dir() -> Path:
    """The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
    if not found:
        raise PostgresMissingError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql: run `make test` (it installs "
            "Debian's postgresql package) or `apt-get install postgresql`"
        )
    return Path(found[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def start_postgres(workdir: Path) -> Iterator[Postgres]:
    bin_dir = server_bin_dir()
    data, sockets = workdir / "data", workdir / "sockets"
    for path in (workdir, sockets):
        path.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    pwfile = workdir / "pw"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (workdir, sockets, pwfile):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    pwfile.chmod(0o600)
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                      f"--pwfile={pwfile}", "-E", "UTF8", "--locale=C.UTF-8"]),
        check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    port = free_port()
    log = workdir / "server.log"
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    subprocess.run(
        _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w",
                      "start"]),
        check=True, capture_output=True, text=True, timeout=START_TIMEOUT,
    )  # fmt: skip
    server = Postgres("127.0.0.1", port, "postgres", password, bin_dir)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ready = subprocess.run([str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                                   capture_output=True, check=False)  # fmt: skip
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        yield server
    finally:
        subprocess.run(
            _as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True, timeout=60, check=False,
        )  # fmt: skip
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """One PostgreSQL server for the whole session (each test makes its own database)."""
    del tmp_path_factory  # pytest's temp dirs are root-only (0700); the server runs as `postgres`
    workdir = Path(tempfile.mkdtemp(prefix="cloudios-pg-"))
    with start_postgres(workdir) as server:
        yield server

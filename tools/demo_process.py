"""The operator demo's process plumbing: the operator subprocess, progress lines, the work directory.

Split from tools/demo_operator.py, which drives the demo itself.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
MARKER = ".cloudios-operator-demo"
LOG_TAIL = 40


class DemoError(RuntimeError):
    """Something the user should read: what failed and, if known, what to do."""


_started = time.monotonic()


def elapsed() -> float:
    """Seconds since the demo started."""
    return time.monotonic() - _started


def progress(message: str) -> None:
    sys.stderr.write(f"[{time.monotonic() - _started:5.1f}s] {message}\n")
    sys.stderr.flush()


def show(command: str, output: str) -> None:
    """A command as the user would type it, then its output (stdout: the demo's result)."""
    sys.stdout.write(f"\n$ {command}\n{output.rstrip()}\n")
    sys.stdout.flush()


def _die_with_parent() -> None:
    # A `kill -9` of the demo must not leave the operator running against a dead API server.
    import ctypes  # noqa: PLC0415

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Operator:
    """`python -m cloudios.controller` as a subprocess, logging (plain text) to a file."""

    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "cloudios.controller"],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C reaches only the demo, which stops the operator first.
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )

    def check_alive(self) -> None:
        if self.popen is not None and (code := self.popen.poll()) is not None:
            raise DemoError(f"the operator exited with code {code}")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = LOG_TAIL) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no operator log)"
        return "\n".join(text.splitlines()[-lines:])


def shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def fresh_workdir(path: Path) -> Path:
    """The demo's own directory under out/, emptied from a previous run (never anything else)."""
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise DemoError(f"{path} exists and was not made by this demo; choose another --workdir")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("created by tools/demo_operator.py; removed by its next run\n")
    return path.resolve()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. a CI timeout) cleans up like Ctrl-C does."""

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

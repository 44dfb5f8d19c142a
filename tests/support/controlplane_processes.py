"""Child processes of the test control plane: finding the binaries, free ports, start, stop, wait."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BUILD_HINT = "run `make controlplane` (or point KUBEBUILDER_ASSETS at a directory that has it)"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 60


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or used."""


# ---------------------------------------------------------------------------------------------
# Binaries


def cache_bin_dir() -> Path:
    """Where tools/controlplane/build.sh publishes the binaries (the `current` symlink)."""
    root = os.environ.get("CLOUDIOS_CACHE_DIR") or str(Path.home() / ".cache" / "cloudios")
    return Path(root) / "controlplane" / "current" / "bin"


def find_binary(name: str) -> Path:
    """KUBEBUILDER_ASSETS first (a user's own build or envtest's), then the build.sh cache."""
    candidates: list[Path] = []
    if assets := os.environ.get("KUBEBUILDER_ASSETS"):
        candidates.append(Path(assets) / name)
    candidates.append(cache_bin_dir() / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ControlPlaneError(f"{name} not found (looked in {looked}): {BUILD_HINT}")


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    """A currently unused loopback port (the OS picks it; reused only after we close it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def die_with_parent() -> None:
    # If pytest is killed outright its finalizers never run; the kernel then sends SIGTERM to
    # etcd and the API server so no orphan keeps ports and temp dirs busy.
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(content[-lines:])


@dataclass
class ServerProcess:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        # Appending keeps the log of a previous run (restart_apiserver) for diagnosis.
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== starting: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def failure(self, what: str) -> ControlPlaneError:
        code = self.exited()
        state = f"exited with {code}" if code is not None else "still running"
        return ControlPlaneError(
            f"{self.name} {what} ({state}); last lines of {self.log_path}:\n{log_tail(self.log_path)}"
        )


def wait_until(ok: Any, process: ServerProcess, what: str, timeout: float = START_TIMEOUT) -> None:
    """Poll `ok()` until true; fail early if the process dies, with its log tail."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if process.exited() is not None:
            raise process.failure(f"died before {what}")
        if ok():
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise process.failure(f"not {what} after {timeout:.0f}s")

"""Owner-only files (0600) and directories (0700), whatever the process umask."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """The directory, created 0700 with any missing parents; an existing one is left as it is
    (it may be the user's own, such as the current directory)."""
    target = Path(path).expanduser()
    missing: list[Path] = []
    for candidate in (target, *target.parents):
        if candidate.exists():
            break
        missing.append(candidate)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process made it at the same moment
        directory.chmod(DIR_MODE)
    return target


def open_private(path: str | Path, flags: int = os.O_WRONLY | os.O_TRUNC, mode: int = FILE_MODE) -> int:
    """A descriptor of ``path``, created with ``mode`` and set to it before anything is written."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def ensure_private_file(path: str | Path) -> None:
    """Create the file 0600 (empty) if it is missing, e.g. a SQLite database before it opens. An
    existing file of ours loses its group and other permissions; another user's is left alone."""
    try:
        os.close(open_private(path, os.O_WRONLY | os.O_EXCL))
    except FileExistsError:
        existing = Path(path)
        found = existing.stat()
        if found.st_uid == os.getuid() and found.st_mode & 0o077:
            existing.chmod(found.st_mode & 0o700)


def write_private(path: str | Path, data: str | bytes) -> None:
    """Write (truncating) a 0600 file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with os.fdopen(open_private(path), "wb") as handle:
        handle.write(payload)


def replace_private(path: str | Path, data: str | bytes) -> None:
    """Atomically replace ``path`` with a new 0600 file holding ``data`` (readers see old or new)."""
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        Path(temporary).replace(target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)

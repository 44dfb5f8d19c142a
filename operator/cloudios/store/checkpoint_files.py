"""Audit checkpoints as write-once files in a directory that must lie outside the data directory."""

from __future__ import annotations

import os
from pathlib import Path

from cloudios.security import files
from cloudios.security.audit import AuditFormatError
from cloudios.security.checkpoints import Checkpoint, CheckpointConflictError
from cloudios.store.sql import data_dir

CHECKPOINT_DIR_ENV = "CLOUDIOS_AUDIT_CHECKPOINT_DIR"
_PATTERN = "checkpoint-*.json"


class CheckpointLocationError(ValueError):
    """A checkpoint directory inside the database's own directory (one attacker could rewrite both)."""


def default_state_dir() -> Path:
    """$XDG_STATE_HOME/cloudios or ~/.local/state/cloudios: apart from the data directory."""
    base = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
    return Path(base).expanduser() / "cloudios"


def checkpoint_dir(explicit: str | Path | None = None, *, data: str | Path | None = None) -> Path:
    """--checkpoints, else $CLOUDIOS_AUDIT_CHECKPOINT_DIR, else <state dir>/audit-checkpoints.

    Refused when inside the data directory: whoever can rewrite the database file could then
    delete its checkpoints too. On a laptop both belong to one user; in a cluster the operator
    keeps the latest checkpoint in a ConfigMap instead (see docs/security.md, "Audit log").
    """
    chosen = explicit or os.environ.get(CHECKPOINT_DIR_ENV)
    directory = Path(chosen).expanduser() if chosen else default_state_dir() / "audit-checkpoints"
    database = data_dir(data).expanduser().resolve()
    if directory.resolve().is_relative_to(database):
        raise CheckpointLocationError(
            f"the audit checkpoint directory {directory} is inside the data directory {database}: "
            "keep checkpoints where whoever can write the database cannot (another volume or "
            f"account), e.g. --checkpoints {default_state_dir() / 'audit-checkpoints'}"
        )
    return directory


class CheckpointDirectory:
    """A directory of write-once checkpoint files, one per index, never overwritten."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def describe(self) -> str:
        return f"directory {self.directory}"

    def path_for(self, index: int) -> Path:
        return self.directory / f"checkpoint-{index:010d}.json"

    def history(self) -> list[Checkpoint]:
        """Every checkpoint file, by index; raises AuditFormatError naming a file that is not one."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob(_PATTERN)):
            try:
                found.append(Checkpoint.from_json(path.read_text(encoding="utf-8")))
            except (AuditFormatError, UnicodeDecodeError) as exc:
                raise AuditFormatError(f"{path}: {exc}") from None
        return sorted(found, key=lambda c: c.index)

    def latest(self) -> Checkpoint | None:
        found = self.history()
        return found[-1] if found else None

    def publish(self, checkpoint: Checkpoint, *, replacing: Checkpoint | None) -> None:
        """Write checkpoint-<index>.json (O_EXCL, owner-read-only 0400 whatever the umask, fsynced) if
        the latest is still ``replacing``."""
        if self.latest() != replacing:
            raise CheckpointConflictError(f"{self.describe()}: the latest checkpoint changed")
        files.private_dir(self.directory)
        try:
            fd = files.open_private(self.path_for(checkpoint.index), os.O_WRONLY | os.O_EXCL, mode=0o400)
        except FileExistsError:
            raise CheckpointConflictError(f"{self.path_for(checkpoint.index)} exists already") from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(checkpoint.to_json())
            handle.flush()
            os.fsync(handle.fileno())

"""What an emulator entry takes and gives back: estate options in, a running, seeded stand-in out."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cloudios.providers.base import Credentials

Progress = Callable[[str], None]
"""Receives one line of progress for the user (stderr in the CLI)."""


@dataclass(frozen=True)
class EstateOptions:
    """Which sample estate to seed: its random seed, size (1.0 = ~100 resources) and days of metrics,
    or an estate file to serve instead (providers whose emulator loads estate files)."""

    seed: int = 7
    scale: float = 1.0
    lookback_days: int = 30
    estate: Path | None = None
    """An estate file (docs/estates.md) to load instead of the generated sample, where supported."""


@dataclass(frozen=True)
class RunningEmulator:
    """A started, seeded emulator: how the SDK reaches it, what to scan, and how to stop it."""

    provider: str
    environment: Mapping[str, str]
    """Settings the provider's SDK reads to reach the emulator (endpoint URLs), set while it runs."""
    manifests: tuple[str, ...]
    """The CloudAccount and ScanPolicy files that scan the sample estate."""
    credentials: Credentials | None
    """Dummy credentials the emulator accepts, passed to the scan explicitly."""
    stop: Callable[[], None] = field(repr=False)


Start = Callable[[EstateOptions, Progress], RunningEmulator]
"""An emulator entry: start the stand-in, seed its sample estate, say how to reach it."""

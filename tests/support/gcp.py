"""The local GCP emulator for tests: started once per session with two seeded projects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudios.emulators.gcp import sample, server
from cloudios.emulators.gcp.estate import Estate
from cloudios.emulators.gcp.server import GcpEmulator

PROJECT_A, PROJECT_B = "proj-alpha-101", "proj-beta-202"
SEEDS = {PROJECT_A: 101, PROJECT_B: 202}  # the seeds tests use; accuracy is also measured on others


@pytest.fixture(scope="session")
def gcp_estates() -> dict[str, Estate]:
    return {p: sample.generate(seed=s, project=p) for p, s in SEEDS.items()}


@pytest.fixture(scope="session")
def gcp_emulator(gcp_estates: dict[str, Estate]) -> Iterator[GcpEmulator]:
    emulator = server.start(gcp_estates.values())
    try:
        yield emulator
    finally:
        emulator.stop()

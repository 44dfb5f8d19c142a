"""The emulator table: unknown clouds and missing extras are named; the environment lasts one block."""

from __future__ import annotations

import os

import pytest

from cloudios.emulators import registry
from cloudios.emulators.base import EstateOptions, Progress, RunningEmulator, Start


def test_running_names_the_available_emulators_and_missing_extras(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(
        registry.EmulatorError,
        match="no local emulator for provider 'kubernetes' yet; available: aws, gcp, azure",
    ):
        registry.running("kubernetes").__enter__()

    def missing() -> Start:
        raise ModuleNotFoundError("No module named 'moto'", name="moto")

    monkeypatch.setitem(registry.EMULATORS, "aws", missing)
    with pytest.raises(registry.EmulatorError, match=r"needs the aws and dev extras \(missing moto\)"):
        registry.running("aws").__enter__()


def test_running_sets_the_environment_for_the_block_and_stops_even_on_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped: list[str] = []

    def start(options: EstateOptions, progress: Progress) -> RunningEmulator:
        progress(f"seed {options.seed}")
        return RunningEmulator(
            provider="aws",
            environment={"CLOUDIOS_TEST_ENDPOINT": "http://127.0.0.1:1"},
            manifests=(),
            credentials=None,
            stop=lambda: stopped.append("stopped"),
        )

    monkeypatch.setitem(registry.EMULATORS, "aws", lambda: start)
    monkeypatch.delenv("CLOUDIOS_TEST_ENDPOINT", raising=False)
    lines: list[str] = []
    seen: list[str | None] = []

    def scan_then_fail() -> None:
        with registry.running("aws", EstateOptions(seed=3), lines.append) as emulator:
            seen.extend((os.environ.get("CLOUDIOS_TEST_ENDPOINT"), emulator.provider))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        scan_then_fail()
    assert seen == ["http://127.0.0.1:1", "aws"]
    assert "CLOUDIOS_TEST_ENDPOINT" not in os.environ
    assert stopped == ["stopped"]
    assert lines == ["seed 3"]

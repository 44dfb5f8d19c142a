"""`cloudios demo` through the emulator table: a small seeded estate, scanned, environment restored."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cloudios.cli.main import main

pytestmark = pytest.mark.aws


def test_demo_scans_the_aws_emulator_and_restores_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/not-the-emulator")
    report = tmp_path / "report.html"
    assert main(["demo", "--provider", "aws", "--scale", "0.2", "--report", str(report)]) == 0
    out, err = capsys.readouterr()
    assert "Potential savings:" in out
    assert "recommendations, list prices" in out
    assert "starting a local AWS emulator (moto server)" in err
    assert "seeded " in err
    assert report.is_file()
    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9/not-the-emulator"


def test_demo_refuses_a_cloud_without_an_emulator(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--provider", "kubernetes"])
    assert exited.value.code == 2
    assert "invalid choice: 'kubernetes' (choose from 'aws', 'gcp', 'azure')" in capsys.readouterr().err

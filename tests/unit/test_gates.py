"""The quality gates run with the tests: ruff, ruff format, mypy strict, import-linter contracts."""

from __future__ import annotations

import operator
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", "."],
        ["ruff", "format", "--check", "."],
        ["mypy"],
        ["lint-imports"],
    ],
    ids=["ruff", "ruff-format", "mypy-strict", "import-linter"],
)
def test_gate(command: list[str]) -> None:
    tool = BIN / command[0]
    assert tool.exists(), f"{tool} missing: run `make venv`"
    result = subprocess.run(
        [str(tool), *command[1:]], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_no_package_named_operator_shadows_the_stdlib() -> None:
    assert not (ROOT / "operator" / "__init__.py").exists()
    assert operator.__file__ is None or "site-packages" not in operator.__file__
    assert hasattr(operator, "itemgetter")

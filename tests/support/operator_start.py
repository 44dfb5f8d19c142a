"""`python -m cloudios.controller` run with a given environment, for checks that stop it at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping


def start_operator(environ: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the operator with only PATH and ``environ``; returns once it exits (bad settings exit 2)."""
    return subprocess.run(
        [sys.executable, "-m", "cloudios.controller"],
        check=False,
        env={"PATH": os.environ.get("PATH", ""), **environ},
        capture_output=True,
        text=True,
        timeout=timeout,
    )

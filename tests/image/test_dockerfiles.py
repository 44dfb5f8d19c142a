"""The Dockerfiles (not built here: no Docker) stay equal to what `make image` builds, field by field."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from tools.images import build, install
from tools.images.lock import Lock

REPO = Path(__file__).resolve().parents[2]
SPECS = {spec.name: spec for spec in build.specs(Lock(REPO / "uv.lock"))}


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"^\s*#.*\n", "", dockerfile.read_text(encoding="utf-8"), flags=re.MULTILINE)
    text = re.sub(r"\\\n", " ", text)
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in text.splitlines() if line.strip()
    ]


@pytest.mark.parametrize(
    ("image", "folder"), [("cloudios-operator", "operator"), ("cloudios-agent", "agent")]
)
def test_dockerfile_matches_make_image(image: str, folder: str) -> None:
    dockerfile = REPO / "images" / folder / "Dockerfile"
    steps = instructions(dockerfile)
    final = steps[max(i for i, (op, _) in enumerate(steps) if op == "FROM") :]
    assert final[0] == ("FROM", "gcr.io/distroless/python3-debian12:nonroot")
    fields = dict(final)
    assert fields["USER"] == f"{install.UID}:{install.GID}"
    assert dict(shlex.split(pair)[0].split("=", 1) for pair in fields["ENV"].split()) == install.ENV
    assert json.loads(fields["CMD"]) == SPECS[image].cmd
    assert fields["COPY"] == f"--from=build {install.PREFIX} {install.PREFIX}"

    text = dockerfile.read_text(encoding="utf-8")
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert uv_version
    assert f"ghcr.io/astral-sh/uv:{uv_version.group(1)} " in text
    assert f"tools/images/lock.py {folder} uv.lock" in text
    assert f"--target {install.SITE} " in text
    scripts = build.entry_points()
    for command in SPECS[image].commands:
        module, function = scripts[command].split(":")
        assert f"from {module} import {function}" in text
        assert f"> {install.PREFIX}/bin/{command}" in text

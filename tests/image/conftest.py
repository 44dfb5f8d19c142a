"""The images, built once per session by the same script as `make image`, then unpacked for crun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.oci_runtime import Image, unpack

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "tools" / "images" / "build.py"


def build_images(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """tools/images/build.py, exactly as `make image` runs it (only --out and ``args`` differ)."""
    for tool in ("buildah", "debootstrap", "crun"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run `make imagedeps` (make test does)", pytrace=False)
    done = subprocess.run(
        [sys.executable, str(BUILD), "--out", str(out), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if done.returncode != 0:
        pytest.fail(f"building the images failed:\n{done.stdout}\n{done.stderr}", pytrace=False)
    return done


@pytest.fixture(scope="session")
def built_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output folder of a full build (both images, digests, SBOMs, charts).

    CLOUDIOS_TEST_IMAGES=out/images reuses an existing `make image` output instead (local iteration
    only; CI leaves it unset, so a clean clone always builds).
    """
    reuse = os.environ.get("CLOUDIOS_TEST_IMAGES")
    if reuse:
        return Path(reuse).resolve()
    out = tmp_path_factory.mktemp("images")
    build_images(out)
    return out


@pytest.fixture(scope="session")
def summary(built_images: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((built_images / "images.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def operator_image(
    built_images: Path, summary: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Image:
    name = "cloudios-operator"
    return unpack(name, built_images / summary[name]["archive"], tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="session")
def agent_image(
    built_images: Path, summary: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Image:
    name = "cloudios-agent"
    return unpack(name, built_images / summary[name]["archive"], tmp_path_factory.mktemp("run"))

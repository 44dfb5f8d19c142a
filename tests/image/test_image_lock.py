"""The images' slice of uv.lock: our closure agrees with uv's own export, and the agent's stays tiny."""

from __future__ import annotations

import subprocess
from pathlib import Path

from packaging.markers import Marker
from tools.images import build
from tools.images.lock import OPERATOR_EXTRAS, TARGET, Lock, requirements

REPO = Path(__file__).resolve().parents[2]


def uv_export(*extras: str) -> set[tuple[str, str]]:
    """What `uv export` pins for the extras, with its markers evaluated for the images' interpreter."""
    command = [str(build.default_uv()), "export", "--frozen", "--no-emit-project", "--no-hashes"]
    command += ["--no-header", "--no-annotate", *(f"--extra={e}" for e in extras)]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True).stdout
    pinned = set()
    for line in out.splitlines():
        if not line or line.startswith(("#", " ")):
            continue
        requirement, _, marker = line.partition(" ; ")
        if not marker or Marker(marker).evaluate(TARGET):
            name, _, version = requirement.partition("==")
            pinned.add((name, version))
    return pinned


def test_the_operator_closure_is_what_uv_exports_for_linux() -> None:
    ours = {(p.name, p.version) for p in Lock(REPO / "uv.lock").operator()}
    assert ours == uv_export(*OPERATOR_EXTRAS)
    names = {name for name, _ in ours}
    assert {
        "boto3",
        "kopf",
        "kubernetes",
        "psycopg-binary",
        "google-cloud-monitoring",
        "azure-identity",
    } <= names
    assert not {"pytest", "moto", "mypy", "ruff", "pywin32"} & names  # the dev extra; pywin32 is Windows-only
    # tzdata is in: pendulum (cel-python, behind `cloudios validate`) needs it everywhere, while
    # psycopg asks for it on Windows only.
    assert "tzdata" in names


def test_the_agent_gets_httpx_and_its_dependencies_only() -> None:
    agent = Lock(REPO / "uv.lock").agent()
    assert {p.name for p in agent} == {
        "httpx",
        "httpcore",
        "h11",
        "anyio",
        "idna",
        "certifi",
        "typing-extensions",
    }


def test_requirements_pin_versions_with_every_locked_hash() -> None:
    (httpx,) = [p for p in Lock(REPO / "uv.lock").agent() if p.name == "httpx"]
    text = requirements([httpx])
    assert text.startswith(f"httpx=={httpx.version} \\\n")
    assert text.count("--hash=sha256:") == len(httpx.wheels) + 1
    assert all(a.sha256 in text for a in httpx.wheels)

"""Every pinned ecosystem in the repository gets weekly updates from .github/dependabot.yml.

A manifest is a file whose pins Dependabot can update: ``uv.lock`` (ecosystem ``uv``), ``go.mod``
(``gomod``), ``requirements*.txt`` (``pip``), a ``Dockerfile``/``Containerfile`` or ``*.Dockerfile``
(``docker``) and any workflow under ``.github/workflows`` (``github-actions``, directory ``/``). The
tree is walked without hidden and ignored folders (.venv, .cache, out, ...), so a new Go module or
image is found the day it is added, and the failure says which entry to extend.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
CONFIG = ROOT / ".github" / "dependabot.yml"
SKIPPED_DIRS = frozenset({"out", "node_modules", "dist", "build", "__pycache__"})


def ecosystem_of(path: Path) -> str | None:
    """The Dependabot ecosystem that updates this file, or None when it pins nothing."""
    name = path.name
    if name == "uv.lock":
        return "uv"
    if name == "go.mod":
        return "gomod"
    if fnmatch.fnmatch(name, "requirements*.txt"):
        return "pip"
    if name in {"Dockerfile", "Containerfile"} or fnmatch.fnmatch(name, "*.Dockerfile"):
        return "docker"
    if path.parent.as_posix().endswith(".github/workflows") and path.suffix in {".yml", ".yaml"}:
        return "github-actions"
    return None


def manifests(root: Path) -> dict[Path, str]:
    """Every manifest under root (relative path -> ecosystem)."""
    found: dict[Path, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and (d == ".github" or d[0] != "."))
        for name in files:
            path = Path(folder, name).relative_to(root)
            ecosystem = ecosystem_of(path)
            if ecosystem:
                found[path] = ecosystem
    return found


def update_directory(path: Path, ecosystem: str) -> str:
    """The directory Dependabot is told about for a manifest: workflows are configured at the root."""
    if ecosystem == "github-actions":
        return "/"
    parent = path.parent.as_posix()
    return "/" if parent == "." else f"/{parent}"


def entries(config: dict[str, Any]) -> list[tuple[str, list[str], dict[str, Any]]]:
    out = []
    for update in config["updates"]:
        dirs = update.get("directories") or [update["directory"]]
        out.append((str(update["package-ecosystem"]), [str(d).rstrip("/") or "/" for d in dirs], update))
    return out


def covered(directory: str, ecosystem: str, config: dict[str, Any]) -> bool:
    for eco, dirs, _ in entries(config):
        if eco == ecosystem and any(d == directory or fnmatch.fnmatchcase(directory, d) for d in dirs):
            return True
    return False


def uncovered(root: Path, config: dict[str, Any]) -> list[str]:
    problems = []
    for path, ecosystem in sorted(manifests(root).items()):
        directory = update_directory(path, ecosystem)
        if not covered(directory, ecosystem, config):
            problems.append(
                f"{path} is not covered by .github/dependabot.yml: add {directory!r} to `directories` of "
                f"the `package-ecosystem: {ecosystem}` entry (or add that entry, schedule weekly)"
            )
    return problems


def load() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return config


def test_every_manifest_in_the_repository_is_updated_weekly() -> None:
    config = load()
    assert config["version"] == 2
    problems = uncovered(ROOT, config)
    assert not problems, "\n".join(problems)


def test_every_entry_runs_weekly_and_the_lock_and_go_modules_are_found() -> None:
    config = load()
    for ecosystem, dirs, update in entries(config):
        assert update["schedule"]["interval"] == "weekly", f"{ecosystem} {dirs}: schedule.interval weekly"
    found = manifests(ROOT)
    # The walk itself must see what we pin today, or the coverage test above would pass vacuously.
    assert found[Path("uv.lock")] == "uv"
    assert found[Path("tools/controlplane/go.mod")] == "gomod"
    assert found[Path("tools/helm/go.mod")] == "gomod"
    assert not any(p.parts[0] in {".venv", ".cache"} for p in found)


@pytest.mark.parametrize(
    ("manifest", "ecosystem", "directory"),
    [
        ("tools/newmod/go.mod", "gomod", "/tools/newmod"),
        ("images/agent/Dockerfile", "docker", "/images/agent"),
        ("Dockerfile", "docker", "/"),
        (".github/workflows/ci.yml", "github-actions", "/"),
        ("tools/audit/requirements.txt", "pip", "/tools/audit"),
    ],
)
def test_a_new_manifest_fails_with_the_entry_to_extend(
    tmp_path: Path, manifest: str, ecosystem: str, directory: str
) -> None:
    path = tmp_path / manifest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    empty: dict[str, Any] = {"version": 2, "updates": []}
    (problem,) = uncovered(tmp_path, empty)
    assert f"add {directory!r}" in problem
    assert f"package-ecosystem: {ecosystem}" in problem
    listed = {
        "version": 2,
        "updates": [
            {"package-ecosystem": ecosystem, "directories": [directory], "schedule": {"interval": "weekly"}}
        ],
    }
    assert uncovered(tmp_path, listed) == []

"""The runtime slice of uv.lock an image installs: a dependency closure, pinned with the lock's hashes."""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import Marker

# The images run Debian bookworm's CPython 3.11 on x86_64 Linux: markers are evaluated for that.
TARGET: dict[str, str] = {
    "python_version": "3.11",
    "python_full_version": "3.11.2",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "extra": "",
}

PROJECT = "cloudios"
# The operator image: the project with every cloud and the PostgreSQL driver, never the dev extra.
OPERATOR_EXTRAS = ("aws", "gcp", "azure", "postgres")
# The agent imports only its own package and httpx (DESIGN.md §3); the image test proves it by running it.
AGENT_ROOTS = ("httpx",)


@dataclass(frozen=True)
class Artifact:
    """One file the lock pins (a wheel or the sdist): where it comes from and its hash."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Locked:
    """One package of the lock as an image installs it."""

    name: str
    version: str
    wheels: tuple[Artifact, ...]
    sdist: Artifact | None

    @property
    def purl(self) -> str:
        return f"pkg:pypi/{self.name}@{self.version}"


class LockError(Exception):
    """uv.lock lacks something an image needs."""


def _applies(entry: Mapping[str, Any]) -> bool:
    marker = entry.get("marker")
    return marker is None or Marker(marker).evaluate(TARGET)


def _artifact(raw: Mapping[str, Any]) -> Artifact:
    algorithm, _, digest = str(raw["hash"]).partition(":")
    if algorithm != "sha256":
        raise LockError(f"{raw['url']}: hash {algorithm} is not sha256")
    return Artifact(url=str(raw["url"]), sha256=digest)


class Lock:
    """uv.lock, read once; closures are computed for the image's target interpreter."""

    def __init__(self, path: Path) -> None:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        self._raw: dict[str, dict[str, Any]] = {p["name"]: p for p in data["package"]}

    def closure(self, roots: Iterable[tuple[str, Iterable[str]]]) -> list[Locked]:
        """Every registry package reachable from ``roots`` (name, extras), the project excluded."""
        todo = [(name, tuple(extras)) for name, extras in roots]
        seen: set[tuple[str, str]] = set()
        names: set[str] = set()
        while todo:
            name, extras = todo.pop()
            raw = self._raw.get(name)
            if raw is None:
                raise LockError(f"{name} is not in uv.lock")
            for extra in ("", *extras):
                if (name, extra) in seen:
                    continue
                seen.add((name, extra))
                names.add(name)
                deps = raw.get("dependencies", []) if not extra else raw["optional-dependencies"][extra]
                todo.extend((d["name"], tuple(d.get("extra", ()))) for d in deps if _applies(d))
        names.discard(PROJECT)
        return [self.package(n) for n in sorted(names)]

    def package(self, name: str) -> Locked:
        raw = self._raw[name]
        if "registry" not in raw["source"]:
            raise LockError(f"{name} comes from {raw['source']}, not a registry")
        sdist = raw.get("sdist")
        return Locked(
            name=name,
            version=str(raw["version"]),
            wheels=tuple(_artifact(w) for w in raw.get("wheels", [])),
            sdist=_artifact(sdist) if sdist else None,
        )

    def operator(self) -> list[Locked]:
        return self.closure([(PROJECT, OPERATOR_EXTRAS)])

    def agent(self) -> list[Locked]:
        return self.closure([(root, ()) for root in AGENT_ROOTS])


def requirements(packages: Iterable[Locked]) -> str:
    """A pip/uv requirements file pinning each package to the lock's version and hashes."""
    lines = []
    for p in packages:
        hashes = [a.sha256 for a in p.wheels] + ([p.sdist.sha256] if p.sdist else [])
        lines.append(f"{p.name}=={p.version}" + "".join(f" \\\n    --hash=sha256:{h}" for h in hashes))
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """`python tools/images/lock.py operator|agent [uv.lock]`: the image's requirements (the Dockerfiles)."""
    lock = Lock(Path(argv[2]) if len(argv) > 2 else Path("uv.lock"))  # noqa: PLR2004
    packages = {"operator": lock.operator, "agent": lock.agent}[argv[1]]()
    sys.stdout.write(requirements(packages))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

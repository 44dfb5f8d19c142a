"""OCI images: committed from a root filesystem by buildah (no daemon), and read back from the archive."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# vfs needs no kernel overlay support and chroot isolation no user namespaces: both work as root in a
# plain container, which is where CI runs.
BUILDAH_ENV = {"STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"}


class OciError(Exception):
    """buildah failed, or an archive is not the OCI layout we wrote."""


@dataclass(frozen=True)
class ImageConfig:
    """What `buildah config` sets: the runtime user, environment, command and labels."""

    user: str
    env: dict[str, str]
    cmd: list[str]
    labels: dict[str, str]


class Buildah:
    """buildah with a private storage directory, so builds never touch the machine's image store."""

    def __init__(self, storage: Path) -> None:
        self.storage = storage

    def __call__(self, *args: str) -> str:
        command = [
            "buildah",
            "--root",
            str(self.storage / "root"),
            "--runroot",
            str(self.storage / "run"),
            "--storage-driver",
            "vfs",
            *args,
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, env={**os.environ, **BUILDAH_ENV}
        )
        if done.returncode != 0:
            raise OciError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
        return done.stdout.strip()

    def commit(self, layer: Path, reference: str, config: ImageConfig, epoch: int) -> None:
        """An image of one layer holding the tarball ``layer``, committed at ``epoch``."""
        container = self("from", "--quiet", "scratch")
        try:
            self("add", container, str(layer), "/")
            options = ["--user", config.user, "--workingdir", "/", "--cmd", json.dumps(config.cmd)]
            options += [f"--env={k}={v}" for k, v in config.env.items()]
            options += [f"--label={k}={v}" for k, v in config.labels.items()]
            options += [
                "--os",
                "linux",
                "--arch",
                "amd64",
                "--created-by",
                f"cloudios make image: {reference}",
            ]
            self("config", *options, container)
            self("commit", "--quiet", "--format", "oci", "--timestamp", str(epoch), container, reference)
        finally:
            self("rm", container)

    def push(self, reference: str, archive: Path) -> str:
        """Write the committed image as an OCI archive, drop it from storage; returns its digest."""
        digestfile = archive.with_suffix(".pushed-digest")
        archive.unlink(missing_ok=True)
        self(
            "push",
            "--quiet",
            "--digestfile",
            str(digestfile),
            reference,
            f"oci-archive:{archive}:{reference}",
        )
        digestfile.unlink()
        self("rmi", reference)
        return read(archive).digest


def layer_tarball(root: Path, tarball: Path, epoch: int) -> None:
    """``root`` as a tar with sorted entries, every mtime at ``epoch`` and numeric owners kept."""

    def normalise(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.mtime = epoch
        info.uname = info.gname = ""
        return info

    with tarfile.open(tarball, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
            tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False, filter=normalise)


@dataclass(frozen=True)
class Archive:
    """An OCI archive with one image: its manifest digest, config, and layer blobs."""

    path: Path
    digest: str
    reference: str
    config: dict[str, Any]
    layers: list[dict[str, Any]]

    @property
    def compressed_bytes(self) -> int:
        return sum(int(layer["size"]) for layer in self.layers)

    def unpack(self, dest: Path) -> None:
        """Extract the layers in order into ``dest`` (one layer here; whiteouts are not needed)."""
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(self.path) as outer:
            for layer in self.layers:
                blob = outer.extractfile(_blob(layer["digest"]))
                if blob is None:
                    raise OciError(f"{self.path}: layer {layer['digest']} missing")
                with tarfile.open(fileobj=blob, mode="r:*") as inner:
                    # Our own layer: modes (sticky /tmp), owners and links are kept as written.
                    inner.extractall(dest, filter="fully_trusted")


def _blob(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    return f"blobs/{algorithm}/{value}"


def _json(tar: tarfile.TarFile, name: str) -> dict[str, Any]:
    member = tar.extractfile(name)
    if member is None:
        raise OciError(f"{name} missing")
    data: dict[str, Any] = json.load(member)
    return data


def read(path: Path) -> Archive:
    with tarfile.open(path) as tar:
        index = _json(tar, "index.json")
        (descriptor,) = index["manifests"]
        manifest = _json(tar, _blob(descriptor["digest"]))
        config = _json(tar, _blob(manifest["config"]["digest"]))
    return Archive(
        path=path,
        digest=str(descriptor["digest"]),
        reference=str(descriptor.get("annotations", {}).get("org.opencontainers.image.ref.name", "")),
        config=config,
        layers=list(manifest["layers"]),
    )


def unpacked_bytes(root: Path) -> int:
    """Bytes of regular files under ``root`` (what the image takes on a node's disk, roughly)."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

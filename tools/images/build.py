"""`make image`: the operator and agent images as OCI archives (buildah, no Docker), SBOMs, charts."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # run as a script (`python tools/images/build.py`) from make
    sys.path.insert(0, str(REPO))

from tools.images import debian, install, oci, sbom  # noqa: E402
from tools.images.lock import Lock, Locked  # noqa: E402

REGISTRY = "ghcr.io/cloudios"
CHARTS = ("helm/cloudios", "helm/cloudios-agent")


@dataclass(frozen=True)
class Spec:
    """One image: its name (as the chart's image.repository ends), packages and commands."""

    name: str
    packages: list[Locked]
    commands: tuple[str, ...]
    cmd: list[str]
    whole_project: bool
    debs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Built:
    name: str
    reference: str
    digest: str
    archive: Path
    sbom: Path
    compressed_bytes: int
    unpacked_bytes: int
    seconds: float


def version() -> str:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return str(project["version"])


def entry_points() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return dict(project["scripts"])


def source_date_epoch() -> int:
    """SOURCE_DATE_EPOCH when set, else the last commit's time: the same tree gives the same images."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    out = subprocess.run(
        ["git", "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True, text=True, check=False
    )
    return int(out.stdout.strip() or 0)


def specs(lock: Lock) -> list[Spec]:
    return [
        # The chart starts `python -m cloudios.controller`; Jobs and users run `cloudios`.
        Spec(
            "cloudios-operator",
            lock.operator(),
            ("cloudios", "kubectl-cloudios"),
            ["cloudios", "--help"],
            whole_project=True,
            # grpcio (Google's SDK) links the C++ runtime, as manylinux wheels expect from the system.
            debs=("libstdc++6",),
        ),
        Spec("cloudios-agent", lock.agent(), ("cloudios-agent",), ["cloudios-agent"], whole_project=False),
    ]


def default_uv() -> Path:
    """$UV, else the Makefile's pinned uv under .cache, else uv on PATH."""
    if os.environ.get("UV"):
        return Path(os.environ["UV"])
    pinned = sorted(REPO.glob(".cache/uv-*/bin/uv"))
    return pinned[-1] if pinned else Path("uv")


def helm_binary() -> Path:
    cache = os.environ.get("CLOUDIOS_CACHE_DIR") or str(Path.home() / ".cache" / "cloudios")
    path = Path(cache) / "controlplane" / "current" / "bin" / "helm"
    if not path.is_file():
        raise SystemExit(f"make image: {path} is missing; run `make controlplane` (it builds helm)")
    return path


class Clock:
    """Prints how long each step of an image took (stderr), so a slow build says where."""

    def __init__(self, image: str) -> None:
        self.image, self.last = image, time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        print(f"  {self.image}: {step} {now - self.last:.1f} s", file=sys.stderr)
        self.last = now


def build_one(
    spec: Spec, *, base: Path, staging: Path, wheel: Path, uv: Path, work: Path, out: Path, epoch: int
) -> Built:
    started = time.monotonic()
    clock = Clock(spec.name)
    tag = version()
    reference = f"{REGISTRY}/{spec.name}:{tag}"
    dest = work / spec.name
    dest.mkdir()
    debs = debian.assemble(base, dest, spec.debs)
    install.users(dest)
    clock.lap("Debian runtime packages")
    site = install.virtualenv(dest)
    install.wheels(uv, spec.packages, site, work / f"requirements-{spec.name}.txt")
    if spec.whole_project:
        install.project(uv, wheel, site)
    else:
        install.agent_only(staging, site)
    scripts = entry_points()
    install.scripts(dest, {name: scripts[name] for name in spec.commands})
    clock.lap("Python packages")
    install.compile_bytecode(dest)
    clock.lap("byte-compiling")
    size = oci.unpacked_bytes(dest)
    layer = work / f"{spec.name}.tar"
    oci.layer_tarball(dest, layer, epoch)
    clock.lap("layer tarball")
    config = oci.ImageConfig(
        user=f"{install.UID}:{install.GID}",
        env=install.ENV,
        cmd=spec.cmd,
        labels={
            "org.opencontainers.image.title": spec.name,
            "org.opencontainers.image.version": tag,
            "org.opencontainers.image.source": "https://github.com/cloudios/cloudios",
            "org.opencontainers.image.licenses": "Apache-2.0",
            "org.opencontainers.image.base.name": f"debian:{debian.SUITE} (debootstrap {debian.VARIANT})",
        },
    )
    archive = out / f"{spec.name}-{tag}.oci.tar"
    buildah = oci.Buildah(work / "storage")
    buildah.commit(layer, reference, config, epoch)
    clock.lap("buildah from/add/config/commit")
    digest = buildah.push(reference, archive)
    clock.lap("buildah push oci-archive")
    (out / f"{spec.name}-{tag}.digest").write_text(f"{reference}@{digest}\n", encoding="utf-8")
    document = sbom.document(
        spec.name, reference, digest, version=tag, python=spec.packages, debs=debs, epoch=epoch
    )
    sbom_path = out / f"{spec.name}-{tag}.spdx.json"
    sbom_path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    oci.remove_tree(dest)
    layer.unlink()
    return Built(
        spec.name,
        reference,
        digest,
        archive,
        sbom_path,
        oci.read(archive).compressed_bytes,
        size,
        time.monotonic() - started,
    )


def package_charts(out: Path) -> list[Path]:
    helm = helm_binary()
    made = []
    for chart in CHARTS:
        done = subprocess.run(
            [str(helm), "package", str(REPO / chart), "--destination", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"helm package {chart} failed:\n{done.stderr}")
        made.append(Path(done.stdout.strip().rsplit(": ", 1)[-1]))
    return made


def build(
    out: Path, uv: Path, *, repin: bool = False, charts: bool = True, only: tuple[str, ...] = ()
) -> list[Built]:
    """Everything `make image` makes, into ``out``; returns what was built."""
    out.mkdir(parents=True, exist_ok=True)
    epoch = source_date_epoch()
    log: list[str] = []
    base = debian.rootfs(log, repin=repin)
    for line in log:
        print(line, file=sys.stderr)
    lock = Lock(REPO / "uv.lock")
    built = []
    debian.cache_dir().mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="image-", dir=debian.cache_dir()) as tmp:
        work = Path(tmp)
        wheel = install.project_wheel(uv, REPO, work, epoch)
        staging = work / "staging"
        install.project(uv, wheel, staging)
        for spec in specs(lock):
            if only and spec.name not in only:
                continue
            print(f"building {spec.name} ...", file=sys.stderr)
            built.append(
                build_one(
                    spec, base=base, staging=staging, wheel=wheel, uv=uv, work=work, out=out, epoch=epoch
                )
            )
    summary = {
        b.name: {
            "reference": b.reference,
            "digest": b.digest,
            "archive": b.archive.name,
            "sbom": b.sbom.name,
            "compressedBytes": b.compressed_bytes,
            "unpackedBytes": b.unpacked_bytes,
        }
        for b in built
    }
    (out / "images.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if charts:
        for chart in package_charts(out):
            print(f"chart {chart}", file=sys.stderr)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "images", help="output folder")
    parser.add_argument("--uv", type=Path, default=default_uv(), help="the uv binary")
    parser.add_argument("--repin", action="store_true", help="rewrite images/debian-packages.txt")
    parser.add_argument("--no-charts", action="store_true", help="skip `helm package`")
    parser.add_argument("--only", action="append", default=[], metavar="IMAGE", help="build only this image")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        built = build(args.out, args.uv, repin=args.repin, charts=not args.no_charts, only=tuple(args.only))
    except (debian.BaseError, install.InstallError, oci.OciError) as exc:
        print(f"make image: {exc}", file=sys.stderr)
        return 1
    for b in built:
        print(
            f"{b.reference}@{b.digest}  {b.compressed_bytes / 2**20:.1f} MiB compressed, "
            f"{b.unpacked_bytes / 2**20:.1f} MiB unpacked  ({b.seconds:.0f} s)  {b.archive}"
        )
    print(f"make image: done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

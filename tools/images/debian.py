"""The Debian base: a debootstrap root filesystem (cached, pinned) and the runtime slice the images ship."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# What the machine's apt sources use (/etc/apt/sources.list.d/debian.sources): bookworm from
# deb.debian.org. snapshot.debian.org would pin by date but is not reachable here, so the versions
# are pinned by images/debian-packages.txt instead and checked after every debootstrap.
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
VARIANT = "minbase"
INCLUDE = ("python3.11-minimal", "libpython3.11-stdlib", "ca-certificates")
PINS = Path(__file__).resolve().parents[2] / "images" / "debian-packages.txt"

# The runtime ships these and what they depend on; the packages that only install software (dpkg,
# tar, perl, debconf, openssl's command) stop the walk, as in distroless images.
RUNTIME_ROOTS = ("base-files", "python3.11-minimal", "libpython3.11-stdlib", "ca-certificates")
INSTALL_ONLY = frozenset({"dpkg", "tar", "perl-base", "debconf", "openssl", "mawk"})
# Documentation is dropped except each package's copyright file (the licence travels with the code),
# and so are glibc's iconv modules (8 MiB): Python's codecs are its own.
DROPPED = (
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/lintian/",
    "/usr/lib/x86_64-linux-gnu/gconv/",
)


class BaseError(Exception):
    """The base root filesystem could not be built or does not match its pins."""


@dataclass(frozen=True)
class Package:
    """One installed Debian package, as dpkg's status file records it."""

    name: str
    version: str
    architecture: str
    stanza: str

    @property
    def purl(self) -> str:
        return f"pkg:deb/debian/{self.name}@{self.version}?arch={self.architecture}&distro=debian-12"

    def field(self, name: str) -> str:
        match = re.search(rf"^{name}: (.*)$", self.stanza, re.MULTILINE)
        return match.group(1) if match else ""

    def depends(self) -> list[list[str]]:
        """Pre-Depends and Depends as alternatives of bare package names."""
        text = ", ".join(f for f in (self.field("Pre-Depends"), self.field("Depends")) if f)
        return [
            [re.sub(r"[\s(:].*", "", alt.strip()) for alt in group.split("|")]
            for group in text.split(",")
            if group.strip()
        ]


def installed(root: Path) -> dict[str, Package]:
    """The packages dpkg installed in ``root``."""
    status = (root / "var/lib/dpkg/status").read_text(encoding="utf-8")
    found = {}
    for stanza in status.strip().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.MULTILINE))
        if "installed" in fields.get("Status", ""):
            found[fields["Package"]] = Package(
                fields["Package"], fields["Version"], fields["Architecture"], stanza.strip() + "\n"
            )
    return found


def pin_lines(packages: dict[str, Package]) -> list[str]:
    return [f"{p.name} {p.version}" for p in sorted(packages.values(), key=lambda p: p.name)]


def drift(got: list[str], want: list[str]) -> list[str]:
    """What differs between installed and pinned ``name version`` lines, one phrase per package."""
    have, pinned = dict(ln.split(" ", 1) for ln in got), dict(ln.split(" ", 1) for ln in want)
    phrases = []
    for name in sorted(have.keys() | pinned.keys()):
        if name not in pinned:
            phrases.append(f"{name} {have[name]} is new")
        elif name not in have:
            phrases.append(f"{name} {pinned[name]} is gone")
        elif have[name] != pinned[name]:
            phrases.append(f"{name} is {have[name]}, pinned {pinned[name]}")
    return phrases


def cache_dir() -> Path:
    base = os.environ.get("CLOUDIOS_CACHE_DIR") or str(Path.home() / ".cache" / "cloudios")
    return Path(base) / "images"


def cache_key() -> str:
    """Everything that decides the root filesystem: suite, mirror, packages, pins, debootstrap."""
    version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "debootstrap"], capture_output=True, text=True, check=True
    ).stdout
    pins = PINS.read_text(encoding="utf-8") if PINS.is_file() else ""
    parts = [SUITE, MIRROR, VARIANT, ",".join(INCLUDE), version, pins]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def rootfs(log: list[str], *, repin: bool = False) -> Path:
    """The cached debootstrap root for the current inputs; built (and checked) when missing."""
    target = cache_dir() / f"rootfs-{SUITE}-{cache_key()}"
    with _locked(cache_dir() / ".lock"):
        if (target / ".complete").is_file() and not repin:
            log.append(f"base: cached {target}")
            return target / "root"
        work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=cache_dir()))
        command = [
            "debootstrap",
            f"--variant={VARIANT}",
            f"--include={','.join(INCLUDE)}",
            SUITE,
            str(work / "root"),
            MIRROR,
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            shutil.rmtree(work, ignore_errors=True)
            raise BaseError(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        got = pin_lines(installed(work / "root"))
        if repin:
            PINS.write_text(_PINS_HEADER + "\n".join(got) + "\n", encoding="utf-8")
            target = cache_dir() / f"rootfs-{SUITE}-{cache_key()}"
        want = [ln for ln in PINS.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
        if got != want:
            shutil.rmtree(work, ignore_errors=True)
            raise BaseError(
                f"debootstrap of {SUITE} from {MIRROR} installed other packages than {PINS} pins "
                f"(the archive moved on; review and run `tools/images/build.py --repin`): "
                + "; ".join(drift(got, want))
            )
        (work / ".complete").write_text("\n".join(command) + "\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
        log.append(f"base: built {target} with debootstrap")
        return target / "root"


_PINS_HEADER = (
    "# Debian packages of the image base root filesystem (debootstrap --variant=minbase of bookworm\n"
    "# from deb.debian.org with tools/images/debian.py's INCLUDE), checked after every debootstrap.\n"
    "# Regenerate with `.venv/bin/python tools/images/build.py --repin` when the archive moves on.\n"
)


def runtime_packages(packages: dict[str, Package], extra: tuple[str, ...] = ()) -> list[Package]:
    """RUNTIME_ROOTS, ``extra`` and their dependencies, stopping at packages that only install software."""
    provides = {
        re.sub(r"\s.*", "", v.strip()): p.name
        for p in packages.values()
        for v in p.field("Provides").split(",")
        if v.strip()
    }
    todo, seen = [*RUNTIME_ROOTS, *extra], set[str]()
    while todo:
        name = todo.pop()
        if name in seen or name in INSTALL_ONLY:
            continue
        seen.add(name)
        for group in packages[name].depends():
            chosen = next((n for n in group if n in packages), None) or provides.get(group[0])
            if chosen is None:
                raise BaseError(f"{name} depends on {' | '.join(group)}, which the base lacks")
            todo.append(chosen)
    return [packages[n] for n in sorted(seen)]


def _listed_files(root: Path, package: Package) -> list[str]:
    for name in (f"{package.name}:{package.architecture}.list", f"{package.name}.list"):
        path = root / "var/lib/dpkg/info" / name
        if path.is_file():
            return path.read_text(encoding="utf-8").splitlines()
    raise BaseError(f"no file list for {package.name} in {root}")


def assemble(root: Path, dest: Path, extra: tuple[str, ...] = ()) -> list[Package]:
    """Copy the runtime packages (and ``extra``) from ``root`` into ``dest`` (merged /usr, as in bookworm)."""
    for top in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "var/lib/dpkg/status.d"):
        (dest / top).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "sbin", "lib", "lib64"):
        (dest / link).symlink_to(f"usr/{link}")
    chosen = runtime_packages(installed(root), extra)
    for package in chosen:
        for entry in _listed_files(root, package):
            keep = not entry.startswith(DROPPED) or entry.endswith("/copyright")
            source = root / entry.lstrip("/")
            if keep and (source.is_symlink() or source.is_file()):
                target = dest / entry.lstrip("/")
                if os.path.lexists(target):  # the merged-/usr links, made above
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target, follow_symlinks=False)
        (dest / "var/lib/dpkg/status.d" / package.name).write_text(package.stanza, encoding="utf-8")
    # Generated by ca-certificates' postinst, so in no file list; Python's ssl and OpenSSL read it.
    bundle = "etc/ssl/certs/ca-certificates.crt"
    (dest / bundle).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / bundle, dest / bundle)
    return chosen

"""What goes on top of the Debian runtime: the non-root user, a virtualenv of the lock's wheels, our code."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tools.images.lock import Locked, requirements

UID = GID = 65532
PREFIX = "/opt/cloudios"
SITE = f"{PREFIX}/lib/python3.11/site-packages"
INTERPRETER = "/usr/bin/python3.11"
# Debian bookworm's glibc is 2.36: the newest manylinux tag its CPython 3.11 accepts.
PLATFORM = "x86_64-manylinux_2_36"
# The image's environment (buildah config --env); HOME is the nonroot user's, as in distroless.
ENV = {
    "PATH": f"{PREFIX}/bin:/usr/bin:/bin",
    "HOME": "/home/nonroot",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "LANG": "C.UTF-8",
    "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
}


class InstallError(Exception):
    """A step of the image's Python installation failed."""


def run(command: list[str], **env: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, env={**os.environ, **env})
    if done.returncode != 0:
        raise InstallError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    return done.stdout


def users(dest: Path) -> None:
    """root and nonroot (65532, as in distroless), a home and a sticky /tmp for a writable mount."""
    (dest / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/usr/sbin/nologin\n"
        f"nonroot:x:{UID}:{GID}:nonroot:/home/nonroot:/usr/sbin/nologin\n",
        encoding="utf-8",
    )
    (dest / "etc/group").write_text(f"root:x:0:\nnonroot:x:{GID}:\n", encoding="utf-8")
    (dest / "etc/nsswitch.conf").write_text(
        "passwd: files\ngroup: files\nhosts: files dns\n", encoding="utf-8"
    )
    for path, mode in (("root", 0o700), ("home/nonroot", 0o700), ("tmp", 0o1777)):
        (dest / path).mkdir(parents=True, exist_ok=True)
        (dest / path).chmod(mode)
    os.chown(dest / "home/nonroot", UID, GID)


def virtualenv(dest: Path) -> Path:
    """A virtualenv at PREFIX over Debian's interpreter, written directly (the image has no venv module)."""
    prefix = dest / PREFIX.lstrip("/")
    (prefix / "bin").mkdir(parents=True)
    (dest / SITE.lstrip("/")).mkdir(parents=True)
    (prefix / "pyvenv.cfg").write_text(
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n", encoding="utf-8"
    )
    for name in ("python", "python3", "python3.11"):
        (prefix / "bin" / name).symlink_to(INTERPRETER)
    return dest / SITE.lstrip("/")


def wheels(uv: Path, packages: list[Locked], site: Path, reqs: Path) -> None:
    """Install exactly the locked packages (hash-checked wheels, no resolution) into ``site``."""
    reqs.write_text(requirements(packages), encoding="utf-8")
    run(
        [
            str(uv),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--require-hashes",
            "--only-binary",
            ":all:",
            "--python-version",
            "3.11",
            "--python-platform",
            PLATFORM,
            "--target",
            str(site),
            "-r",
            str(reqs),
        ],
        UV_PYTHON_DOWNLOADS="never",
    )
    _tidy(site)


def project_wheel(uv: Path, repo: Path, work: Path, epoch: int) -> Path:
    """Build the cloudios wheel from the working tree (reproducible with SOURCE_DATE_EPOCH)."""
    out = work / "dist"
    run(
        [str(uv), "build", "--wheel", "--quiet", "--out-dir", str(out), str(repo)],
        SOURCE_DATE_EPOCH=str(epoch),
    )
    (wheel,) = out.glob("cloudios-*.whl")
    return wheel


def project(uv: Path, wheel: Path, site: Path) -> None:
    run(
        [
            str(uv),
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--python-version",
            "3.11",
            "--python-platform",
            PLATFORM,
            "--target",
            str(site),
            str(wheel),
        ],
        UV_PYTHON_DOWNLOADS="never",
    )
    _tidy(site)


# uv records where a local wheel came from (a temporary path) and when: neither belongs in an image,
# and both would make every build's digest different.
INSTALL_RECORDS = ("direct_url.json", "uv_cache.json")


def _tidy(site: Path) -> None:
    """Drop what describes the build machine rather than the package, from the files and RECORDs.

    That is the console scripts uv generates (their shebang names the build machine's interpreter;
    the image gets its own, see scripts()) and uv's install records.
    """
    shutil.rmtree(site / "bin", ignore_errors=True)
    for info in site.glob("*.dist-info"):
        for name in INSTALL_RECORDS:
            (info / name).unlink(missing_ok=True)
        record = info / "RECORD"
        kept = [
            line
            for line in record.read_text(encoding="utf-8").splitlines()
            if not line.startswith("bin/") and line.split(",", 1)[0].rsplit("/", 1)[-1] not in INSTALL_RECORDS
        ]
        record.write_text("\n".join(kept) + "\n", encoding="utf-8")


def agent_only(staging: Path, site: Path) -> None:
    """The agent image takes only the cloudios_agent package from the installed wheel."""
    shutil.copytree(staging / "cloudios_agent", site / "cloudios_agent")


def scripts(dest: Path, commands: dict[str, str]) -> None:
    """Console scripts bound to the image's virtualenv (``name: module:function``)."""
    for name, target in commands.items():
        module, function = target.split(":")
        path = dest / PREFIX.lstrip("/") / "bin" / name
        path.write_text(
            f"#!{PREFIX}/bin/python\nimport sys\n\nfrom {module} import {function}\n\n"
            f"sys.exit({function}())\n",
            encoding="utf-8",
        )
        path.chmod(0o755)


def compile_bytecode(dest: Path) -> None:
    """Byte-compile the stdlib and site-packages with the image's own interpreter (chroot).

    A read-only root filesystem cannot take __pycache__ later; unchecked-hash .pyc files carry no
    source timestamps, so the layer stays reproducible.
    """
    run(
        [
            "chroot",
            str(dest),
            INTERPRETER,
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            "/usr/lib/python3.11",
            PREFIX,
        ],
        PYTHONHASHSEED="0",
    )

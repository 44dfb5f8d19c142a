"""Run a built image under crun: the image's user and environment, a read-only root, host networking.

The bundle's config.json is generated from the image config the way a container engine does it; the
only writable paths are tmpfs mounts (/tmp, /dev), as in the charts (readOnlyRootFilesystem plus a
/tmp emptyDir). No user namespace is needed: crun runs as root and starts the process as the image's
user (65532), so this works in CI containers where unprivileged user namespaces are off.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.images import oci

# crun 1.8 refuses a cgroup v1/v2 hybrid host whose v2 hierarchy has controllers ("cgroups in hybrid
# mode not supported"), even with --cgroup-manager=disabled. The run happens in a private mount
# namespace where that v2 mount is taken away first; the host's mounts are untouched.
_HYBRID_V2 = "/sys/fs/cgroup/unified"


class RuntimeMissingError(Exception):
    """crun or unshare is not installed (`make imagedeps` installs them)."""


@dataclass(frozen=True)
class Image:
    """An unpacked image: its root filesystem and its OCI config."""

    name: str
    archive: oci.Archive
    rootfs: Path
    state: Path

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.archive.config["config"]
        return config

    def spec(self, args: list[str], env: dict[str, str]) -> dict[str, Any]:
        uid, _, gid = str(self.config.get("User", "0:0")).partition(":")
        return {
            "ociVersion": "1.0.2",
            "process": {
                "terminal": False,
                "user": {"uid": int(uid), "gid": int(gid or uid)},
                "args": args,
                "env": [*self.config.get("Env", []), *(f"{k}={v}" for k, v in env.items())],
                "cwd": self.config.get("WorkingDir") or "/",
                "capabilities": {
                    k: [] for k in ("bounding", "effective", "permitted", "inheritable", "ambient")
                },
                "noNewPrivileges": True,
            },
            "root": {"path": str(self.rootfs), "readonly": True},
            "hostname": self.name,
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {
                    "destination": "/dev",
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
                },
                {
                    "destination": "/tmp",
                    "type": "tmpfs",
                    "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=1777", "size=262144k"],
                },
            ],
            # No network namespace: the container shares the host's loopback (the emulators listen there).
            "linux": {"namespaces": [{"type": t} for t in ("pid", "ipc", "uts", "mount")]},
        }

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        """Run ``args`` in a fresh container of this image; returns the finished process."""
        for tool in ("crun", "unshare"):
            if shutil.which(tool) is None:
                raise RuntimeMissingError(f"{tool} is not installed: run `make imagedeps` (Debian's crun)")
        container = f"cloudios-test-{uuid.uuid4().hex[:12]}"
        bundle = self.state / container
        bundle.mkdir(parents=True)
        (bundle / "config.json").write_text(json.dumps(self.spec(list(args), env or {})), encoding="utf-8")
        crun = ["crun", "--root", str(self.state / "crun"), "--cgroup-manager=disabled"]
        script = (
            f"if mountpoint -q {_HYBRID_V2}; then umount {_HYBRID_V2}; fi; "
            f"exec {shlex.join([*crun, 'run', '--bundle', str(bundle), container])}"
        )
        try:
            return subprocess.run(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        finally:
            subprocess.run([*crun, "delete", "--force", container], capture_output=True, check=False)
            shutil.rmtree(bundle, ignore_errors=True)


def unpack(name: str, archive: Path, workdir: Path) -> Image:
    read = oci.read(archive)
    rootfs = workdir / name / "rootfs"
    read.unpack(rootfs)
    return Image(name=name, archive=read, rootfs=rootfs, state=workdir / name / "state")

"""The Debian base without debootstrap: which packages the runtime takes, and how pin drift reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.images import debian


def status(tmp_path: Path, *stanzas: str) -> dict[str, debian.Package]:
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    text = "\n".join(f"{s.strip()}\nStatus: install ok installed\nArchitecture: amd64\n" for s in stanzas)
    (tmp_path / "var/lib/dpkg/status").write_text(text, encoding="utf-8")
    return debian.installed(tmp_path)


def stanza(name: str, depends: str = "", pre: str = "", provides: str = "") -> str:
    fields = [f"Package: {name}", "Version: 1.0"]
    fields += [f"Pre-Depends: {pre}"] * bool(pre) + [f"Depends: {depends}"] * bool(depends)
    fields += [f"Provides: {provides}"] * bool(provides)
    return "\n".join(fields)


ROOTS = [stanza(n) for n in debian.RUNTIME_ROOTS if n != "python3.11-minimal"]


def test_runtime_takes_dependencies_and_stops_at_installers(tmp_path: Path) -> None:
    packages = status(
        tmp_path,
        *ROOTS,
        # alternatives: the first installed one; versions and arch qualifiers are ignored
        stanza("python3.11-minimal", depends="libmissing | libssl3 (>= 3.0), libz:any", pre="dpkg"),
        stanza("libssl3", depends="libc6 (>= 2.34)"),
        stanza("zlib1g", provides="libz (= 1)", depends="libc6"),
        stanza("libc6"),
        stanza("dpkg", depends="tar, libselinux1"),  # needed to install, not to run
        stanza("tar"),
        stanza("libselinux1"),
        stanza("unrelated"),
    )
    chosen = {p.name for p in debian.runtime_packages(packages, extra=("libc6",))}
    assert chosen == {*debian.RUNTIME_ROOTS, "libssl3", "zlib1g", "libc6"}


def test_a_dependency_the_base_lacks_is_an_error(tmp_path: Path) -> None:
    packages = status(tmp_path, *ROOTS, stanza("python3.11-minimal", depends="libgone"))
    with pytest.raises(debian.BaseError, match=r"python3\.11-minimal depends on libgone"):
        debian.runtime_packages(packages)


def test_pin_drift_names_each_package() -> None:
    got = ["libc6 2.36-9+deb12u14", "new 1", "same 2"]
    want = ["gone 3", "libc6 2.36-9+deb12u13", "same 2"]
    assert debian.drift(got, want) == [
        "gone 3 is gone",
        "libc6 is 2.36-9+deb12u14, pinned 2.36-9+deb12u13",
        "new 1 is new",
    ]


def test_the_pins_are_sorted_name_version_lines() -> None:
    lines = [ln for ln in debian.PINS.read_text(encoding="utf-8").splitlines() if not ln.startswith("#")]
    assert lines == sorted(lines)
    assert all(len(ln.split(" ")) == 2 for ln in lines)
    names = {ln.split(" ")[0] for ln in lines}
    assert set(debian.INCLUDE) <= names
    assert {"python3.11-minimal", "libc6", "libstdc++6"} <= names

"""`make audit`: every package version of uv.lock checked against PyPI's published vulnerability data.

pip-audit asks PyPI's per-release JSON API (`--vulnerability-service pypi`, https://pypi.org/pypi/
<name>/<version>/json: the `vulnerabilities` PyPI publishes from the OSV advisories). The pins come
from uv.lock itself, not from `uv export`, so every locked version is audited whatever its
environment markers (the lock holds two networkx versions, one per Python range; pip-audit takes
one pin per name, so such names go in a second run).

pip-audit reports a package whose release page answers 404 as *skipped* and still exits 0. Some
PyPI mirrors serve only the project JSON (/pypi/<name>/json, which describes the latest release),
so for skipped packages this tool reads that instead when the locked version *is* the latest; any
package still unseen makes the audit incomplete (exit 3), never a pass. Exit codes: 0 clean,
1 vulnerable or an expired exception, 2 a bad exceptions file, 3 not audited (PyPI unreachable
or packages it could not see). The verdict itself is tools/audit_policy.py.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import json
import subprocess
import sys
import tempfile
import tomllib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

import audit_policy
from audit_policy import Findings, Unaudited, Vulnerability

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"
EXCEPTIONS = ROOT / "security" / "audit-exceptions.toml"
CACHE = ROOT / ".cache" / "pip-audit"
PYPI = "https://pypi.org/pypi"
TIMEOUT = 60
NOT_ON_PYPI = "Dependency not found on PyPI"


class UnreachableError(RuntimeError):
    """PyPI's vulnerability data could not be read at all."""


def locked_packages(lock: Path) -> list[tuple[str, str]]:
    """(name, version) of every package the lock takes from a registry (the project itself excluded)."""
    data = tomllib.loads(lock.read_text(encoding="utf-8"))
    return sorted(
        (str(p["name"]), str(p["version"])) for p in data["package"] if "registry" in p.get("source", {})
    )


def pin_sets(pins: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Pins split so that no name appears twice in one set (pip-audit refuses duplicate names)."""
    sets: list[list[tuple[str, str]]] = []
    for name, version in pins:
        for chosen in sets:
            if all(audit_policy.canonical(n) != audit_policy.canonical(name) for n, _ in chosen):
                chosen.append((name, version))
                break
        else:
            sets.append([(name, version)])
    return sets


def run_pip_audit(pins: list[tuple[str, str]], cache: Path) -> dict[str, Any]:
    """One pip-audit run over exact pins (no resolution: --no-deps --disable-pip); its JSON report."""
    with tempfile.TemporaryDirectory(prefix="cloudios-audit-") as tmp:
        requirements = Path(tmp, "requirements.txt")
        requirements.write_text("".join(f"{n}=={v}\n" for n, v in pins), encoding="utf-8")
        output = Path(tmp, "report.json")
        command = [
            sys.executable, "-m", "pip_audit", "--requirement", str(requirements),
            "--no-deps", "--disable-pip",
            "--vulnerability-service", "pypi", "--format", "json", "--output", str(output), "--aliases", "on",
            "--desc", "on", "--progress-spinner", "off", "--cache-dir", str(cache), "--timeout", str(TIMEOUT),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if not output.exists():
            tail = "\n".join(done.stderr.strip().splitlines()[-5:])
            if "No module named pip_audit" in done.stderr:
                raise UnreachableError("pip-audit is not installed in this environment: run `make venv`")
            raise UnreachableError(f"pip-audit could not query PyPI (exit {done.returncode}):\n{tail}")
        report: dict[str, Any] = json.loads(output.read_text(encoding="utf-8"))
        return report


def project_json(name: str) -> dict[str, Any]:
    url = f"{PYPI}/{name}/json"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data: dict[str, Any] = json.load(response)
    except (urllib.error.URLError, TimeoutError) as exc:
        raise UnreachableError(f"could not read {url}: {exc}") from None
    return data


def from_project_json(item: Unaudited, data: dict[str, Any]) -> list[Vulnerability] | Unaudited:
    """The latest release's vulnerabilities when the locked version is that release; else still unseen."""
    latest = str(data["info"]["version"])
    try:
        same = Version(latest) == Version(item.version)
    except InvalidVersion:
        same = latest == item.version
    if not same:
        return Unaudited(
            item.package,
            item.version,
            f"{PYPI}/{item.package}/{item.version}/json answered 404 and the project JSON covers only "
            f"the latest release ({latest}); audit where PyPI serves release pages, or upgrade the lock",
        )
    return [
        Vulnerability(
            package=item.package,
            version=item.version,
            id=str(v["id"]),
            aliases=tuple(str(a) for a in v.get("aliases") or ()),
            fix_versions=tuple(str(f) for f in v.get("fixed_in") or ()),
            description=str(v.get("details") or v.get("summary") or ""),
        )
        for v in data.get("vulnerabilities") or ()
        if not v.get("withdrawn")
    ]


def fill_gaps(findings: Findings) -> Findings:
    """Audit pip-audit's skipped packages from PyPI's project JSON where that is exact (module doc)."""
    gaps = [u for u in findings.unaudited if u.reason.startswith(NOT_ON_PYPI)]
    if not gaps:
        return findings
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda u: project_json(u.package), gaps))
    audited, vulns = list(findings.audited), list(findings.vulnerabilities)
    unaudited = [u for u in findings.unaudited if not u.reason.startswith(NOT_ON_PYPI)]
    for item, data in zip(gaps, answers, strict=True):
        result = from_project_json(item, data)
        if isinstance(result, Unaudited):
            unaudited.append(result)
        else:
            audited.append((item.package, item.version))
            vulns.extend(result)
    return Findings(tuple(sorted(audited)), tuple(vulns), tuple(unaudited))


def audit(lock: Path, cache: Path = CACHE) -> Findings:
    """Everything PyPI's vulnerability data says about the locked versions (network: pypi.org only)."""
    merged: list[dict[str, Any]] = []
    for chosen in pin_sets(locked_packages(lock)):
        pinned = {audit_policy.canonical(n): v for n, v in chosen}
        for dep in run_pip_audit(chosen, cache)["dependencies"]:
            # pip-audit names no version for a skipped package; within one pin set the name is unique.
            dep.setdefault("version", pinned.get(audit_policy.canonical(dep["name"]), "?"))
            merged.append(dep)
    findings = audit_policy.parse_pip_audit({"dependencies": merged})
    if merged and len(findings.unaudited) == len(merged):
        # No release page answered: find out whether PyPI is there at all before going on.
        project_json(findings.unaudited[0].package)
    return fill_gaps(findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--lock", type=Path, default=LOCK, help="the uv lock file (default: uv.lock)")
    parser.add_argument("--exceptions", type=Path, default=EXCEPTIONS, help="recorded exceptions (TOML)")
    parser.add_argument(
        "--report", type=Path, help="judge this recorded pip-audit JSON report instead of querying PyPI"
    )
    args = parser.parse_args(argv)
    today = dt.datetime.now(dt.UTC).date()
    try:
        exceptions = audit_policy.load_exceptions(args.exceptions, today)
    except audit_policy.ConfigError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return audit_policy.EXIT_CONFIG
    try:
        if args.report:
            findings = audit_policy.parse_pip_audit(json.loads(args.report.read_text(encoding="utf-8")))
        else:
            findings = audit(args.lock)
    except UnreachableError as exc:
        print(
            f"audit: PyPI's vulnerability data is out of reach, nothing was audited: {exc}", file=sys.stderr
        )
        return audit_policy.EXIT_INCOMPLETE
    verdict = audit_policy.judge(findings, exceptions, today)
    for line in verdict.lines():
        print(line)
    return verdict.exit_code


if __name__ == "__main__":
    raise SystemExit(main())

"""What an audit of the lock file means: known vulnerabilities weighed against recorded exceptions.

An exception (security/audit-exceptions.toml) accepts one advisory of one package for a while:

    [[exception]]
    id = "GHSA-xxxx-xxxx-xxxx"   # the advisory, or any alias of it (PYSEC-..., CVE-...)
    package = "jinja2"
    reason = "why Cloudios is not affected, or why it cannot upgrade yet"
    expires = 2027-01-31         # a TOML date; the audit fails on and after this day

The audit fails (exit 1) on a vulnerability without a valid exception and on any expired exception
(renew it with a new reason, or remove it); it cannot pass (exit 3) while a locked package could
not be audited at all. Exceptions are at most MAX_DAYS long, so each one is looked at again.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_DAYS = 180
EXIT_OK, EXIT_VULNERABLE, EXIT_CONFIG, EXIT_INCOMPLETE = 0, 1, 2, 3


class ConfigError(ValueError):
    """The exceptions file is malformed; the message names the entry and the field."""


def canonical(name: str) -> str:
    """A package name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Vulnerability:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()
    description: str = ""

    @property
    def names(self) -> frozenset[str]:
        return frozenset({self.id, *self.aliases})

    def label(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fix = f"fixed in {', '.join(self.fix_versions)}" if self.fix_versions else "no fixed version yet"
        return f"{self.package} {self.version}: {self.id}{aliases}, {fix}"


@dataclass(frozen=True)
class Unaudited:
    package: str
    version: str
    reason: str


@dataclass(frozen=True)
class AuditException:
    id: str
    package: str
    reason: str
    expires: dt.date

    def covers(self, vuln: Vulnerability) -> bool:
        return canonical(self.package) == canonical(vuln.package) and self.id in vuln.names

    def label(self) -> str:
        return f"{self.package} {self.id} (expires {self.expires.isoformat()})"


@dataclass(frozen=True)
class Findings:
    """What the vulnerability data said about the locked packages."""

    audited: tuple[tuple[str, str], ...]
    vulnerabilities: tuple[Vulnerability, ...] = ()
    unaudited: tuple[Unaudited, ...] = ()


def parse_pip_audit(report: dict[str, Any]) -> Findings:
    """pip-audit's `-f json` output: audited packages with their vulnerabilities, and skipped ones."""
    audited: list[tuple[str, str]] = []
    vulns: list[Vulnerability] = []
    unaudited: list[Unaudited] = []
    for dep in report["dependencies"]:
        name = str(dep["name"])
        if "skip_reason" in dep:
            version = str(dep.get("version", "?"))
            unaudited.append(Unaudited(name, version, str(dep["skip_reason"])))
            continue
        version = str(dep["version"])
        audited.append((name, version))
        vulns.extend(
            Vulnerability(
                package=name,
                version=version,
                id=str(v["id"]),
                aliases=tuple(str(a) for a in v.get("aliases", ())),
                fix_versions=tuple(str(f) for f in v.get("fix_versions", ())),
                description=str(v.get("description", "")),
            )
            for v in dep.get("vulns", ())
        )
    return Findings(tuple(audited), tuple(vulns), tuple(unaudited))


def load_exceptions(path: Path, today: dt.date) -> list[AuditException]:
    """The recorded exceptions; a missing file means none."""
    if not path.exists():
        return []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"exception"}
    if unknown:
        raise ConfigError(f"{path}: unknown table(s) {sorted(unknown)}; write entries as [[exception]]")
    return [_exception(path, i, entry, today) for i, entry in enumerate(data.get("exception", []))]


def _exception(path: Path, index: int, entry: dict[str, Any], today: dt.date) -> AuditException:
    where = f"{path}: exception[{index}]"
    unknown = set(entry) - {"id", "package", "reason", "expires"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
    for key in ("id", "package", "reason"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"{where}.{key}: required, a non-empty string")
    expires = entry.get("expires")
    if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
        raise ConfigError(f"{where}.expires: required, a TOML date such as 2027-01-31 (no quotes)")
    if (expires - today).days > MAX_DAYS:
        raise ConfigError(
            f"{where}.expires: {expires.isoformat()} is more than {MAX_DAYS} days away; "
            "choose a nearer date and look at the advisory again then"
        )
    return AuditException(entry["id"].strip(), entry["package"].strip(), entry["reason"].strip(), expires)


@dataclass
class Verdict:
    findings: Findings
    vulnerable: list[Vulnerability] = field(default_factory=list)
    accepted: list[tuple[Vulnerability, AuditException]] = field(default_factory=list)
    expired: list[AuditException] = field(default_factory=list)
    unused: list[AuditException] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.vulnerable or self.expired:
            return EXIT_VULNERABLE
        if self.findings.unaudited:
            return EXIT_INCOMPLETE
        return EXIT_OK

    def lines(self) -> list[str]:
        """The report, one line per finding, with what to do about each."""
        findings = self.findings
        total = f"{len(findings.vulnerabilities)} known vulnerabilities, {len(self.accepted)} accepted"
        audited = len(findings.audited)
        out = [f"audited {audited} locked package versions against PyPI's vulnerability data: {total}"]
        out += [
            f"VULNERABLE {v.label()}: upgrade it in uv.lock or record an exception" for v in self.vulnerable
        ]
        out += [
            f"EXPIRED exception {e.label()}: upgrade the package, or renew the exception with a new reason; "
            "remove it if the advisory no longer applies"
            for e in self.expired
        ]
        out += [f"accepted {v.label()}: {e.reason} (until {e.expires.isoformat()})" for v, e in self.accepted]
        out += [
            f"unused exception {e.label()}: no locked package has it any more, remove it" for e in self.unused
        ]
        if findings.unaudited:
            out.append(
                f"NOT AUDITED: {len(findings.unaudited)} locked packages; an audit that cannot see them fails"
            )
            out += [f"  {u.package} {u.version}: {u.reason}" for u in findings.unaudited]
        return out


def judge(findings: Findings, exceptions: list[AuditException], today: dt.date) -> Verdict:
    verdict = Verdict(findings)
    used: set[int] = set()
    for vuln in findings.vulnerabilities:
        matching = [(i, e) for i, e in enumerate(exceptions) if e.covers(vuln)]
        used.update(i for i, _ in matching)
        valid = [e for _, e in matching if today < e.expires]
        if valid:
            verdict.accepted.append((vuln, valid[0]))
        else:
            verdict.vulnerable.append(vuln)
    for i, exception in enumerate(exceptions):
        if today >= exception.expires:
            verdict.expired.append(exception)
        elif i not in used:
            verdict.unused.append(exception)
    return verdict

"""`make audit`'s verdict on pip-audit reports: exceptions with reasons and expiry, never a silent pass."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import tools

ROOT = Path(__file__).resolve().parent.parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "audit"
VULNERABLE = FIXTURES / "pip-audit-jinja2-3.1.4.json"
SKIPPED = FIXTURES / "pip-audit-release-pages-404.json"
TODAY = dt.date(2026, 11, 30)
JINJA_IDS = {"GHSA-gmj6-6f8f-6699", "GHSA-q2x7-8rv6-6q7h", "GHSA-cpwx-vrp4-4pq7"}


@pytest.fixture(scope="module")
def lock_tool() -> ModuleType:
    return tools.load_tool("audit_lock")


@pytest.fixture(scope="module")
def policy(lock_tool: ModuleType) -> Any:
    return lock_tool.audit_policy  # the same module object the tool uses


def findings(policy: Any, path: Path) -> Any:
    import json  # noqa: PLC0415

    return policy.parse_pip_audit(json.loads(path.read_text()))


def exceptions(policy: Any, tmp_path: Path, text: str) -> list[Any]:
    path = tmp_path / "audit-exceptions.toml"
    path.write_text(text)
    result: list[Any] = policy.load_exceptions(path, TODAY)
    return result


def entry(vuln_id: str, expires: str = "2027-01-31", package: str = "jinja2") -> str:
    reason = "templates are ours"
    return (
        f'[[exception]]\nid = "{vuln_id}"\npackage = "{package}"\nreason = "{reason}"\nexpires = {expires}\n'
    )


def test_a_known_vulnerability_without_an_exception_fails(policy: Any) -> None:
    verdict = policy.judge(findings(policy, VULNERABLE), [], TODAY)
    assert verdict.exit_code == 1
    assert {v.id for v in verdict.vulnerable} == JINJA_IDS
    text = "\n".join(verdict.lines())
    assert "VULNERABLE jinja2 3.1.4: GHSA-cpwx-vrp4-4pq7 (CVE-2025-27516), fixed in 3.1.6" in text
    assert "audited 2 locked package versions" in text


def test_exceptions_by_advisory_or_alias_accept_it_until_they_expire(policy: Any, tmp_path: Path) -> None:
    recorded = exceptions(
        policy,
        tmp_path,
        entry("GHSA-gmj6-6f8f-6699")
        + entry("CVE-2024-56326")
        + entry("GHSA-cpwx-vrp4-4pq7", package="Jinja2"),
    )
    verdict = policy.judge(findings(policy, VULNERABLE), recorded, TODAY)
    assert verdict.exit_code == 0, verdict.lines()
    assert {v.id for v, _ in verdict.accepted} == JINJA_IDS
    assert "accepted jinja2 3.1.4: GHSA-q2x7-8rv6-6q7h" in "\n".join(verdict.lines())
    on_expiry = policy.judge(findings(policy, VULNERABLE), recorded, dt.date(2027, 1, 31))
    assert on_expiry.exit_code == 1
    assert len(on_expiry.expired) == 3
    assert {v.id for v in on_expiry.vulnerable} == JINJA_IDS
    assert "EXPIRED exception jinja2 CVE-2024-56326 (expires 2027-01-31)" in "\n".join(on_expiry.lines())


def test_an_exception_for_another_package_or_advisory_accepts_nothing(policy: Any, tmp_path: Path) -> None:
    recorded = exceptions(
        policy, tmp_path, entry("GHSA-gmj6-6f8f-6699", package="pyyaml") + entry("CVE-0000-1")
    )
    verdict = policy.judge(findings(policy, VULNERABLE), recorded, TODAY)
    assert verdict.exit_code == 1
    assert len(verdict.vulnerable) == 3
    assert len(verdict.unused) == 2
    assert "unused exception pyyaml GHSA-gmj6-6f8f-6699" in "\n".join(verdict.lines())


def test_an_expired_exception_fails_even_when_nothing_needs_it(policy: Any, tmp_path: Path) -> None:
    recorded = exceptions(policy, tmp_path, entry("GHSA-gmj6-6f8f-6699", expires="2026-11-30"))
    clean = policy.Findings(audited=(("jinja2", "3.1.6"),))
    assert policy.judge(clean, recorded, TODAY).exit_code == 1
    assert policy.judge(clean, recorded, dt.date(2026, 11, 29)).exit_code == 0


def test_skipped_packages_never_pass(policy: Any) -> None:
    # pip-audit itself exits 0 ("No known vulnerabilities found") on this recorded report.
    verdict = policy.judge(findings(policy, SKIPPED), [], TODAY)
    assert verdict.exit_code == 3
    assert [u.package for u in verdict.findings.unaudited] == ["jinja2", "networkx", "requests"]
    assert "NOT AUDITED: 3 locked packages" in "\n".join(verdict.lines())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[exception]]\nid = "X"\npackage = "p"\nexpires = 2027-01-01\n', "exception[0].reason: required"),
        ('[[exception]]\nid = "X"\npackage = "p"\nreason = " "\nexpires = 2027-01-01\n', ".reason: required"),
        ('[[exception]]\nid = "X"\npackage = "p"\nreason = "r"\nexpires = "2027-01-01"\n', "a TOML date"),
        ('[[exception]]\nid = "X"\npackage = "p"\nreason = "r"\n', "exception[0].expires: required"),
        (
            '[[exception]]\nid = "X"\npackage = "p"\nreason = "r"\nexpires = 2027-12-31\n',
            "more than 180 days",
        ),
        (
            '[[exception]]\nid = "X"\npackage = "p"\nreason = "r"\nexpires = 2027-01-01\nowner = "me"\n',
            "unknown",
        ),
        ('[[exceptions]]\nid = "X"\n', "write entries as [[exception]]"),
        ("[[exception]\n", "not valid TOML"),
    ],
)
def test_a_malformed_exception_names_the_entry_and_field(
    policy: Any, tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(policy.ConfigError, match=r"audit-exceptions\.toml") as caught:
        exceptions(policy, tmp_path, text)
    assert message in str(caught.value)


def test_the_committed_exceptions_file_is_valid(policy: Any, lock_tool: ModuleType) -> None:
    today = dt.datetime.now(dt.UTC).date()
    for recorded in policy.load_exceptions(lock_tool.EXCEPTIONS, today):
        assert today < recorded.expires, f"{recorded.label()} has expired: renew or remove it"
    assert policy.load_exceptions(ROOT / "no-such-file.toml", today) == []


def test_the_command_judges_a_recorded_report(tmp_path: Path) -> None:
    tool = ROOT / "tools" / "audit_lock.py"
    none = tmp_path / "none.toml"
    run = subprocess.run(
        [sys.executable, str(tool), "--report", str(VULNERABLE), "--exceptions", str(none)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stdout.count("VULNERABLE jinja2 3.1.4") == 3
    skipped = subprocess.run(
        [sys.executable, str(tool), "--report", str(SKIPPED), "--exceptions", str(none)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert skipped.returncode == 3
    bad = tmp_path / "bad.toml"
    bad.write_text('[[exception]]\nid = "X"\n')
    refused = subprocess.run(
        [sys.executable, str(tool), "--report", str(VULNERABLE), "--exceptions", str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "exception[0].package: required" in refused.stderr


def policy_canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def test_every_locked_version_is_audited_once_duplicates_in_a_second_run(lock_tool: ModuleType) -> None:
    pins = lock_tool.locked_packages(ROOT / "uv.lock")
    names = [name for name, _ in pins]
    assert "cloudios" not in names  # the project itself is not on PyPI
    assert len(pins) > 100
    forked = [("networkx", "3.6.1"), ("Networkx", "3.7"), ("pyyaml", "6.0.2")]  # one per Python range
    for case in (pins, forked):
        sets = lock_tool.pin_sets(case)
        assert sorted(p for chosen in sets for p in chosen) == sorted(case)
        for chosen in sets:
            assert len({policy_canonical(n) for n, _ in chosen}) == len(chosen)
    assert len(lock_tool.pin_sets(forked)) == 2


def test_the_project_json_stands_in_only_for_the_latest_release(lock_tool: ModuleType, policy: Any) -> None:
    item = policy.Unaudited("jinja2", "3.1.4", "Dependency not found on PyPI and could not be audited")
    advisory = {"id": "GHSA-cpwx-vrp4-4pq7", "aliases": ["CVE-2025-27516"], "fixed_in": ["3.1.6"],
                "details": "sandbox breakout", "withdrawn": None}  # fmt: skip
    withdrawn = {**advisory, "id": "GHSA-old", "withdrawn": "2025-01-01T00:00:00Z"}
    latest = {"info": {"version": "3.1.4"}, "vulnerabilities": [advisory, withdrawn]}
    (vuln,) = lock_tool.from_project_json(item, latest)
    assert (vuln.id, vuln.aliases, vuln.fix_versions) == (
        "GHSA-cpwx-vrp4-4pq7",
        ("CVE-2025-27516",),
        ("3.1.6",),
    )
    older = lock_tool.from_project_json(item, {"info": {"version": "3.1.6"}, "vulnerabilities": []})
    assert isinstance(older, policy.Unaudited)
    assert "covers only the latest release (3.1.6)" in older.reason

"""`make audit` for real: uv.lock against PyPI's published vulnerability data (needs https://pypi.org).

Runs in every `make test`. PyPI out of reach fails the test with the reason; it never skips. On a
PyPI mirror that serves only project pages (this development machine: /pypi/<name>/<version>/json
answers 404), the locked versions that are not the latest release cannot be audited there: the test
names them in a warning and `make audit` exits 3 for them, while every other package is audited.
"""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

from tests.support import tools

pytestmark = pytest.mark.slow


def test_no_locked_package_has_a_known_vulnerability_without_a_valid_exception() -> None:
    tool = tools.load_tool("audit_lock")
    policy = tool.audit_policy
    today = dt.datetime.now(dt.UTC).date()
    try:
        findings = tool.audit(tool.LOCK)
    except tool.UnreachableError as exc:
        pytest.fail(f"the vulnerability audit needs https://pypi.org and could not read it: {exc}")
    verdict = policy.judge(findings, policy.load_exceptions(tool.EXCEPTIONS, today), today)
    report = "\n".join(verdict.lines())
    assert not verdict.vulnerable, f"run `make audit`, then upgrade or record an exception:\n{report}"
    assert not verdict.expired, (
        f"run `make audit`: an exception in security/audit-exceptions.toml expired\n{report}"
    )
    assert len(findings.audited) >= len(tool.locked_packages(tool.LOCK)) // 2, report
    for item in findings.unaudited:
        assert "covers only the latest release" in item.reason, f"{item.package} was not audited:\n{report}"
    if findings.unaudited:
        warnings.warn(
            "not audited on this machine (PyPI serves no release pages here): "
            + ", ".join(f"{u.package} {u.version}" for u in findings.unaudited),
            stacklevel=1,
        )

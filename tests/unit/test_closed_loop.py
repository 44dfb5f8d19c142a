"""The closed loop over a real store: baseline, Applied, Verified with realized savings, Regressed, restart.

Each scan is what pipeline.scan does with a store: the loop reads the account's open findings, then
the scan's findings are recorded. The Recommendation side is the sink's pure plan, applied to a dict
the way the API server would (status merge patch), so a second plan shows what a rerun would write.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloudios import pricing
from cloudios.domain import Finding, Money, ScanRecord, Snapshot
from cloudios.modules import registry
from cloudios.pipeline import closed_loop
from cloudios.pricing import aws as aws_pricing
from cloudios.sinks import recommendation_objects as objects
from cloudios.store.sql import SqlRepository
from tests.golden.test_golden import load_snapshot
from tests.golden_loop.test_golden_loop import GOLDEN, _after

TENANT, ACCOUNT, MODULE = "team-a", "prod", "aws.ec2.rightsize"
INSTANCE = "i-0b000000000000001"
POLICY = objects.PolicyRef(TENANT, "nightly", "uid-1")
BOOK = aws_pricing.bundled()


def _scan(repo: SqlRepository, snapshot: Snapshot, *, settings: closed_loop.LoopSettings | None = None,
          ) -> closed_loop.LoopReport:  # fmt: skip
    module = registry.get(MODULE)
    findings: list[Finding] = module.run(snapshot)
    report = closed_loop.follow(
        repo,
        tenant=TENANT,
        account_name=ACCOUNT,
        snapshot=snapshot,
        previous=repo.findings(TENANT, account_name=ACCOUNT),
        published=findings,
        book=BOOK,
        settings=settings or closed_loop.LoopSettings(),
        now=snapshot.collected_at,
        modules=(MODULE,),
        regions=None,
    )
    when = snapshot.collected_at
    record = ScanRecord(str(uuid.uuid4()), TENANT, ACCOUNT, "nightly", "aws", "123456789012", when, when,
                        (MODULE,), {}, len(snapshot.resources))  # fmt: skip
    priced = [f.model_copy(update={"monthly_savings": _rounded(pricing.savings(f, BOOK))}) for f in findings]
    repo.record_scan(record, priced)
    return report


def _before() -> Snapshot:
    snapshot, _, _ = load_snapshot(GOLDEN / MODULE / "oversized-m5-2xlarge")
    return snapshot


def _resized(days: int, cpu_p99: float) -> Snapshot:
    cpu = {"days": days, "average": cpu_p99 / 2, "maximum": cpu_p99, "p99": cpu_p99}
    change = {
        "set": {INSTANCE: {"instanceType": "m5.xlarge"}},
        "metrics": {INSTANCE: {"cpu_utilization": cpu}},
    }
    return _after(_before(), change, days)


def _publish(repo: SqlRepository, existing: dict[str, Any] | None) -> tuple[objects.Plan, dict[str, Any]]:
    """One publish of the policy's objects; returns the plan and the object as the API would hold it."""
    found = repo.findings(TENANT, account_name=ACCOUNT, include_resolved=True)
    records = {r.finding_id: r for r in repo.outcomes(TENANT, account_name=ACCOUNT)}
    plan = objects.plan(
        POLICY, found, [existing] if existing else [], cap=50, floor=Decimal(0), records=records
    )
    if existing is None:
        body, status = plan.create[0]
        return plan, {**body, "status": status}
    _, _, patch = plan.patch[0]
    status = {**existing.get("status", {}), **(patch or {})}
    return plan, {**existing, "status": {k: v for k, v in status.items() if v is not None}}


def test_applied_then_verified_with_realized_savings_and_a_restart_in_between(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    (record,) = repo.outcomes(TENANT)
    assert record.state is None
    assert record.baseline.run_rate is not None
    assert record.baseline.run_rate.amount == Decimal("280.32")
    assert record.baseline.run_rate_basis == "list prices of the aws price book dated 2024-12-01"
    _, obj = _publish(repo, None)
    assert obj["status"]["state"] == "Proposed"
    # What `kubectl cloudios approve` and the decision handler do.
    obj["spec"]["decision"] = {"type": "Approved", "decidedAt": "2025-01-14T09:00:00+00:00"}
    obj["status"]["state"] = "Approved"

    report = _scan(repo, _resized(3, 40))
    assert report.applied == [record.finding_id]
    plan, obj = _publish(repo, obj)
    assert obj["status"]["state"] == "Applied"
    assert obj["status"]["approved"] is True
    assert obj["status"]["appliedAt"] == "2025-01-18T00:00:00+00:00"
    assert obj["status"]["outcome"]["observed"] == {"instanceType": "m5.xlarge"}
    assert [(t.previous, t.state) for t in plan.transitions] == [("Approved", "Applied")]
    assert len(plan.transitions[0].evidence_hash) == 64
    assert "realizedMonthlySavings" not in obj["status"]

    # A rerun of the same scan, and an operator restart (a new repository on the same file), change nothing.
    assert _scan(repo, _resized(3, 40)).written == 0
    restarted = SqlRepository.sqlite(tmp_path)
    plan, again = _publish(restarted, obj)
    assert again == obj
    assert plan.transitions == []

    report = _scan(restarted, _resized(10, 40))  # 6 whole days of data after the change day
    assert report.verified == []
    report = _scan(restarted, _resized(11, 40))  # 7
    assert report.verified == [record.finding_id]
    plan, obj = _publish(restarted, obj)
    assert obj["status"]["state"] == "Verified"
    assert obj["status"]["realizedMonthlySavings"] == {"amount": "140.16", "currency": "USD"}
    assert obj["status"]["realized"]["basis"] == "list prices of the aws price book dated 2024-12-01"
    assert obj["status"]["realized"]["postChangeDays"] >= 7
    assert obj["spec"]["monthlySavings"] == {"amount": "140.16", "currency": "USD"}  # the estimate beside it
    assert [(t.previous, t.state) for t in plan.transitions] == [("Applied", "Verified")]
    assert _scan(restarted, _resized(12, 40)).verified == []
    assert _publish(restarted, obj)[0].transitions == []


def test_a_change_without_approval_is_applied_and_flagged(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    _scan(repo, _resized(2, 40))
    _, obj = _publish(repo, obj)
    assert (obj["status"]["state"], obj["status"]["approved"]) == ("Applied", False)


def test_saturated_cpu_on_the_new_size_raises_regressed_once(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    _scan(repo, _resized(1, 40))
    _, obj = _publish(repo, obj)
    report = _scan(repo, _resized(3, 97))
    assert report.regressed == [repo.outcomes(TENANT)[0].finding_id]
    plan, obj = _publish(repo, obj)
    (condition,) = [c for c in obj["status"]["conditions"] if c["type"] == "Regressed"]
    assert condition["status"] == "True"
    assert condition["reason"] == "CpuSaturated"
    assert "97.0 percent vs threshold 90.0" in condition["message"]
    assert [t.name for t in plan.regressed] == [obj["metadata"]["name"]]
    assert obj["status"]["state"] == "Applied"
    assert obj["status"]["outcome"]["regressions"][0]["signal"] == "CpuSaturated"
    assert _publish(repo, obj)[0].regressed == []


def test_resized_differently_is_never_applied(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    other = _after(_before(), {"set": {INSTANCE: {"instanceType": "m5.large"}}}, 2)
    assert _scan(repo, other).applied == []
    _, obj = _publish(repo, obj)
    assert obj["status"]["state"] != "Applied"
    assert obj["status"]["outcome"]["result"] == "ChangedDifferently"
    assert obj["status"]["outcome"]["observed"] == {"instanceType": "m5.large"}


def test_the_verification_window_is_a_policy_setting(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    short = closed_loop.LoopSettings(verification_days_by_module={MODULE: 2})
    _scan(repo, _resized(1, 40), settings=short)
    assert _scan(repo, _resized(3, 40), settings=short).verified == []  # one day after the change day
    assert _scan(repo, _resized(4, 40), settings=short).verified == [repo.outcomes(TENANT)[0].finding_id]


def test_the_docs_table_is_the_state_machine() -> None:
    from cloudios.domain.lifecycle import table  # noqa: PLC0415

    text = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()
    for source, trigger, to, _ in table():
        assert f"| {source} | `{trigger}` | {to} |" in text


def _rounded(money: Money | None) -> Money | None:
    return money.rounded() if money is not None else None

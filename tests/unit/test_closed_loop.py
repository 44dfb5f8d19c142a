"""The closed loop over a real store: baseline, Applied, Verified with realized savings, Regressed, restart.

Each scan is what pipeline.scan does with a store: the loop reads the account's open findings, then
the scan's findings are recorded. The Recommendation side is the sink's pure plan, applied to a dict
the way the API server would (status merge patch), so a second plan shows what a rerun would write.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from cloudios import pricing
from cloudios.api.closed_loop import ClosedLoop
from cloudios.cli import html_report, kubectl_views, loop_summary
from cloudios.domain import Finding, Money, ScanRecord, Snapshot
from cloudios.modules import registry
from cloudios.pipeline import closed_loop
from cloudios.pricing import aws as aws_pricing
from cloudios.services import closed_loop as closed_loop_service
from cloudios.services import recommendation_ownership as ownership
from cloudios.sinks import loop_metrics
from cloudios.sinks import recommendation_objects as objects
from cloudios.store.sql import SqlRepository
from tests.golden.test_golden import BOOKS, load_snapshot
from tests.golden_loop.test_golden_loop import GOLDEN, _after

TENANT, ACCOUNT, MODULE = "team-a", "prod", "aws.ec2.rightsize"
INSTANCE = "i-0b000000000000001"
POLICY = objects.PolicyRef(TENANT, "nightly", "uid-1")
BOOK = aws_pricing.bundled()


def _scan(repo: SqlRepository, snapshot: Snapshot, *, settings: closed_loop.LoopSettings | None = None,
          ) -> closed_loop.LoopReport:  # fmt: skip
    return _scan_module(repo, snapshot, MODULE, "123456789012", settings=settings)


def _scan_module(repo: SqlRepository, snapshot: Snapshot, name: str, account_id: str, *,
                 settings: closed_loop.LoopSettings | None = None) -> closed_loop.LoopReport:  # fmt: skip
    """What pipeline.scan does with a store: the loop over the previous findings, then the record."""
    module = registry.get(name)
    book = BOOKS[snapshot.provider]()
    findings: list[Finding] = [
        f.model_copy(update={"monthly_savings": _rounded(pricing.savings(f, book))})
        for f in module.run(snapshot)
    ]
    report = closed_loop.follow(
        repo,
        tenant=TENANT,
        account_name=ACCOUNT,
        snapshot=snapshot,
        previous=repo.findings(TENANT, account_name=ACCOUNT),
        published=findings,
        book=book,
        settings=settings or closed_loop.LoopSettings(),
        now=snapshot.collected_at,
        modules=(name,),
        regions=None,
    )
    when = snapshot.collected_at
    provider = snapshot.provider.value
    record = ScanRecord(str(uuid.uuid4()), TENANT, ACCOUNT, "nightly", provider, account_id, when, when,
                        (name,), {}, len(snapshot.resources))  # fmt: skip
    repo.record_scan(record, findings)
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
    (exported,) = restarted.export_tenant(TENANT, now=_before().collected_at)["recommendationOutcomes"]
    assert (exported["findingId"], exported["state"]) == (record.finding_id, "Verified")
    assert exported["realized"]["monthly_savings"] == {"amount": "140.16", "currency": "USD"}


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


def test_stale_proposed_recommendations_expire_and_come_back_when_seen_again(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    found = repo.findings(TENANT, account_name=ACCOUNT, include_resolved=True)
    fid = found[0].finding.id
    fresh = _before().collected_at + timedelta(days=13)
    assert (
        closed_loop_service.expire(
            repo, TENANT, found, {fid: "Proposed"}, now=fresh, max_age=timedelta(days=14)
        )
        == 0
    )
    late = _before().collected_at + timedelta(days=15)
    # An approved one is not expired: a user is acting on it.
    assert (
        closed_loop_service.expire(
            repo, TENANT, found, {fid: "Approved"}, now=late, max_age=timedelta(days=14)
        )
        == 0
    )
    assert (
        closed_loop_service.expire(
            repo, TENANT, found, {fid: "Proposed"}, now=late, max_age=timedelta(days=14)
        )
        == 1
    )
    assert (
        closed_loop_service.expire(
            repo, TENANT, found, {fid: "Proposed"}, now=late, max_age=timedelta(days=14)
        )
        == 0
    )
    plan, obj = _publish(repo, obj)
    assert obj["status"]["state"] == "Expired"
    assert [(t.previous, t.state) for t in plan.transitions] == [("Proposed", "Expired")]
    # The next scan reports it again: Proposed again, with fresh evidence.
    _scan(repo, _after(_before(), {}, 15))
    plan, obj = _publish(repo, obj)
    assert obj["status"]["state"] == "Proposed"
    assert [(t.previous, t.state) for t in plan.transitions] == [("Expired", "Proposed")]


def test_totals_and_summary_count_only_known_realized_savings() -> None:
    def item(
        account: str, state: str, estimate: str, realized: str | None, *, regressed: bool = False
    ) -> dict[str, Any]:
        status: dict[str, Any] = {"state": state}
        if realized is not None:
            status["realizedMonthlySavings"] = {"amount": realized, "currency": "USD"}
        if regressed:
            status["conditions"] = [{"type": "Regressed", "status": "True"}]
        spec = {"accountRef": {"name": account}, "category": "rightsize", "module": MODULE,
                "monthlySavings": {"amount": estimate, "currency": "USD"}}  # fmt: skip
        return {"metadata": {"namespace": TENANT, "labels": {}}, "spec": spec, "status": status}

    items = [
        item("prod", "Verified", "100", "90"),
        item("prod", "Verified", "50", None),  # a price went missing: neither column
        item("dev", "Verified", "10", "12", regressed=True),
        item("dev", "Applied", "70", None),
        item("dev", "Proposed", "500", None),
    ]
    estimated, realized = closed_loop_service.totals(items)
    assert estimated == {
        ("prod", "rightsize", MODULE, "USD"): Decimal(100),
        ("dev", "rightsize", MODULE, "USD"): Decimal(10),
    }
    assert realized == {
        ("prod", "rightsize", MODULE, "USD"): Decimal(90),
        ("dev", "rightsize", MODULE, "USD"): Decimal(12),
    }
    summary = closed_loop_service.summary(items)
    assert summary is not None
    assert (summary.applied, summary.verified, summary.regressed, summary.unknown_realized) == (1, 3, 1, 1)
    assert summary.realized_monthly_savings == Money(amount=Decimal(102), currency="USD")
    assert summary.estimated_monthly_savings == Money(amount=Decimal(110), currency="USD")
    assert closed_loop_service.summary(items[-1:]) is None
    rows = loop_summary.totals(items)
    assert rows["account"] == {
        f"{TENANT}/prod": (Decimal(100), Decimal(90)),
        f"{TENANT}/dev": (Decimal(10), Decimal(12)),
    }


def test_realized_gauges_replace_the_namespace_series() -> None:
    registry = CollectorRegistry()
    gauges = loop_metrics.of(registry)
    assert loop_metrics.of(registry) is gauges
    key = ("prod", "rightsize", MODULE, "USD")
    gauges.set_totals(TENANT, {key: Decimal("140.16")}, {key: Decimal("139.9")})
    labels = {
        "namespace": TENANT,
        "account": "prod",
        "category": "rightsize",
        "module": MODULE,
        "currency": "USD",
    }
    assert registry.get_sample_value("cloudios_realized_monthly_savings", labels) == 139.9
    assert registry.get_sample_value("cloudios_verified_estimated_monthly_savings", labels) == 140.16
    gauges.set_totals(TENANT, {}, {})
    assert registry.get_sample_value("cloudios_realized_monthly_savings", labels) is None
    gauges.regressed(TENANT, MODULE)
    assert (
        registry.get_sample_value(
            "cloudios_recommendation_regressions_total", {"namespace": TENANT, "module": MODULE}
        )
        == 1
    )


def test_the_html_report_shows_estimated_vs_realized(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _scan(repo, _resized(1, 40))
    _scan(repo, _resized(9, 97))  # 7 whole days after the change day, saturated
    records = [r for r in repo.outcomes(TENANT) if r.state in ("Applied", "Verified")]
    section = html_report.loop_rows(records)
    assert (section["estimated"], section["realized"], section["regressed"]) == ("140.16", "140.16", 1)
    page = html_report.render({"summary": _EMPTY_SUMMARY, "recommendations": []}, loop=section)
    assert "<h2>Applied and verified</h2>" in page
    assert "realized <strong>140.16 USD</strong>" in page
    assert "<td>CpuSaturated</td>" in page
    assert "Applied and verified" not in html_report.render(
        {"summary": _EMPTY_SUMMARY, "recommendations": []}
    )


_EMPTY_SUMMARY = {
    "monthlySavings": {"amount": "0", "currency": "USD"},
    "recommendations": 0,
    "accounts": 1,
    "resources": 0,
    "unpriced": 0,
    "byCategory": {},
}


def test_per_module_windows_name_modules() -> None:
    loop = ClosedLoop.model_validate({"verificationDaysByModule": {MODULE: 3}})
    assert loop.verification_days_by_module == {MODULE: 3}
    with pytest.raises(ValidationError, match="not module names: Bad Name"):
        ClosedLoop.model_validate({"verificationDaysByModule": {"Bad Name": 3}})
    with pytest.raises(ValidationError):
        ClosedLoop.model_validate({"verificationDaysByModule": {MODULE: 0}})


def test_a_workload_is_verified_from_its_containers_usage(tmp_path: Path) -> None:
    """k8s.workload.rightsize: the finding names the workload; post-change days come from its containers."""
    repo = SqlRepository.sqlite(tmp_path)
    before, _, _ = load_snapshot(GOLDEN / "k8s.workload.rightsize" / "oversized")
    container = "shop/Deployment/web/app"
    lowered = {"requests": {"cpuM": 230, "memoryBytes": 361758720}}

    def scan(days: int) -> closed_loop.LoopReport:
        usage = {"days": days, "average": 150, "maximum": 200, "p95": 190, "samples": 288}
        after = _after(
            before, {"set": {container: lowered}, "metrics": {container: {"cpu_millicores": usage}}}, days
        )
        return _scan_module(repo, after, "k8s.workload.rightsize", "golden-cluster")

    _scan_module(repo, before, "k8s.workload.rightsize", "golden-cluster")
    assert scan(1).applied
    assert scan(8).verified == []  # six whole days after the change day
    (fid,) = scan(9).verified
    (record,) = [r for r in repo.outcomes(TENANT) if r.finding_id == fid]
    assert record.realized is not None
    assert record.realized.monthly_savings is not None
    assert record.realized.post_change_days == 7


def test_the_object_handler_keeps_loop_states_but_never_writes_one_first(tmp_path: Path) -> None:
    """The publish writes (and audits) every loop transition; an object event in between changes none."""
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    _scan(repo, _resized(3, 97))  # Applied
    _scan(repo, _resized(5, 97))  # saturated after the change
    (stored,) = repo.findings(TENANT, account_name=ACCOUNT, include_resolved=True)
    (record,) = repo.outcomes(TENANT)
    assert (record.state, bool(record.regressions)) == ("Applied", True)
    pending = ownership.desired_status(obj, stored, record)
    assert pending["state"] == "Proposed"
    assert pending.get("appliedAt") is None
    assert "conditions" not in pending
    _, written = _publish(repo, obj)  # the publish: Applied, Regressed
    kept = ownership.desired_status(written, stored, record)
    assert kept["state"] == "Applied"
    assert objects.status_patch(written, kept) is None
    forged = {**obj, "status": {**obj["status"], "state": "Verified"}}
    assert ownership.desired_status(forged, stored, record)["state"] == "Proposed"
    assert (
        ownership.desired_status(forged, stored, None)["state"] == "Resolved"
    )  # the store backs no loop state here
    verified = record.model_copy(update={"state": "Verified"})
    assert ownership.desired_status(written, stored, verified)["state"] == "Applied"  # the publish moves it


def test_explain_tells_what_the_loop_saw(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    assert "applied:" not in kubectl_views.describe(obj)
    _scan(repo, _resized(1, 40))
    _scan(repo, _resized(9, 97))
    _, obj = _publish(repo, obj)
    text = kubectl_views.describe(obj)
    assert "  observed:   Applied: instanceType m5.xlarge" in text
    assert "(without approval)" in text
    assert "  realized:   140.16 USD per month over 7 day(s) (list prices of the aws price book dated" in text
    assert "  regressed:  CpuSaturated: after the change: CpuSaturated of i-0b000000000000001" in text


def test_a_change_undone_before_verification_realizes_nothing(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _scan(repo, _resized(1, 40))
    cpu = {"days": 9, "average": 15, "maximum": 25}
    undone = _after(_before(), {"metrics": {INSTANCE: {"cpu_utilization": cpu}}}, 9)  # m5.2xlarge again
    (fid,) = _scan(repo, undone).verified
    (record,) = repo.outcomes(TENANT)
    assert record.finding_id == fid
    assert record.realized is not None
    assert record.realized.monthly_savings == Money.zero("USD")
    assert "undone" in (record.realized.reason or "")

"""Expired after N unseen scans, over a real store: a run that did not fully cover a Recommendation's
scope (account skipped or failed, region not scanned, module failed or not selected) neither resolves
nor confirms it and counts one unseen scan; N consecutive ones expire it; a covering run resets.

The scans are test_closed_loop's (pipeline.closed_loop over a golden snapshot, then the store's
record); each run's count is services.closed_loop.count_unseen, what the policy's publish calls.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cloudios.api.cloudaccount import AwsAccount, CloudAccountSpec
from cloudios.domain import Finding, Provider, ScanRecord, lifecycle
from cloudios.domain.closed_loop import Coverage, LoopRecord
from cloudios.modules import registry
from cloudios.pipeline import scan as pipeline_scan
from cloudios.pipeline.scan import ScanOutcome
from cloudios.pipeline.selection import Selected
from cloudios.providers import registry as providers
from cloudios.services import closed_loop as service
from cloudios.services.account_scans import AccountRun
from cloudios.store.sql import SqlRepository
from tests.golden_loop.test_golden_loop import _after
from tests.golden_loop.test_golden_loop import _finding as golden_finding
from tests.unit.test_closed_loop import ACCOUNT, INSTANCE, MODULE, TENANT, _before, _publish, _scan

COMPLETE = Coverage(modules=frozenset({MODULE}), regions=frozenset({"us-east-1"}))
SKIPPED = Coverage(reason="account prod was skipped (NotReady)")
NO_REGION = Coverage(modules=frozenset({MODULE}), regions=frozenset({"eu-west-3"}))
MODULE_FAILED = Coverage(failed=frozenset({MODULE}))
NOT_SELECTED = Coverage(modules=frozenset({"aws.ebs.unattached"}))


def _run(repo: SqlRepository, obj: dict[str, Any], coverage: Coverage, day: int, *, limit: int = 3) -> int:
    """One run's count: ``day`` days after the first scan is the run's start (its key)."""
    found = repo.findings(TENANT, account_name=ACCOUNT, include_resolved=True)
    states = {str(obj["spec"]["findingId"]): obj["status"]["state"]}
    when = _before().collected_at + timedelta(days=day)
    return service.count_unseen(
        repo, TENANT, found, states, {ACCOUNT: coverage}, run=when, limit=limit, now=when
    )


def _record(repo: SqlRepository) -> LoopRecord:
    (record,) = repo.outcomes(TENANT)
    return record


def _proposed(tmp_path: Path) -> tuple[SqlRepository, dict[str, Any]]:
    repo = SqlRepository.sqlite(tmp_path)
    _scan(repo, _before())
    _, obj = _publish(repo, None)
    assert obj["status"]["state"] == "Proposed"
    return repo, obj


def test_a_partial_run_neither_resolves_nor_confirms_and_counts_one(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    assert _run(repo, obj, SKIPPED, 1) == 1
    assert _record(repo).missing_scans == 1
    assert _record(repo).unseen_reason == "account prod was skipped (NotReady)"
    plan, obj = _publish(repo, obj)
    assert obj["status"]["state"] == "Proposed"
    assert obj["status"].get("resolvedAt") is None
    assert plan.transitions == []


def test_n_partial_runs_expire_with_the_reason_and_the_count(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    for day, coverage in enumerate((SKIPPED, NO_REGION), start=1):
        _run(repo, obj, coverage, day)
        assert _record(repo).state is None
        assert _publish(repo, obj)[1]["status"]["state"] == "Proposed"
    _run(repo, obj, MODULE_FAILED, 3)
    record = _record(repo)
    assert (record.state, record.missing_scans) == ("Expired", 3)
    assert len(record.evidence_hash) == 64
    plan, obj = _publish(repo, obj)
    assert obj["status"]["state"] == "Expired"
    assert obj["status"]["outcome"]["result"] == "Unseen"
    assert obj["status"]["outcome"]["observed"] == {"unseenScans": 3, "reason": f"module {MODULE} failed"}
    assert "3 consecutive run(s)" in obj["status"]["outcome"]["detail"]
    assert [(t.previous, t.state) for t in plan.transitions] == [("Proposed", "Expired")]
    assert lifecycle.path(lifecycle.State.PROPOSED, lifecycle.State.EXPIRED) == [lifecycle.Trigger.EXPIRE]
    assert _run(repo, obj, SKIPPED, 4) == 0  # Expired is left only by reopen


def test_an_approved_recommendation_expires_and_a_dismissed_one_does_not(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    approved = {**obj, "status": {**obj["status"], "state": "Approved"}}
    for day in (1, 2, 3):
        _run(repo, approved, NOT_SELECTED, day)
    assert _record(repo).state == "Expired"
    assert "not selected by the policy" in _record(repo).unseen_reason

    other = tmp_path / "dismissed"
    other.mkdir()
    repo, obj = _proposed(other)
    dismissed = {**obj, "status": {**obj["status"], "state": "Dismissed"}}
    for day in (1, 2, 3, 4):
        _run(repo, dismissed, SKIPPED, day)
    assert (_record(repo).state, _record(repo).missing_scans) == (None, 4)


def test_a_complete_run_resets_the_count(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    _run(repo, obj, SKIPPED, 1)
    _run(repo, obj, SKIPPED, 2)
    _scan(repo, _after(_before(), {}, 3))  # the complete scan reports it again
    assert _run(repo, obj, COMPLETE, 3) == 1
    assert (_record(repo).missing_scans, _record(repo).unseen_reason) == (0, "")
    _run(repo, obj, SKIPPED, 4)
    _run(repo, obj, SKIPPED, 5)
    assert (_record(repo).state, _record(repo).missing_scans) == (None, 2)
    _run(repo, obj, SKIPPED, 6)
    assert _record(repo).state == "Expired"


def test_a_complete_run_without_the_finding_still_resolves_it(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    _run(repo, obj, SKIPPED, 1)
    gone = _after(_before(), {"remove": [INSTANCE]}, 2)
    _scan(repo, gone)  # the instance was terminated: a resize proposal whose resource vanished
    assert _run(repo, obj, COMPLETE, 2) == 0  # resolved: not counted
    _, obj = _publish(repo, obj)
    assert obj["status"]["state"] == "Resolved"


def test_each_run_counts_once_and_a_restart_changes_nothing(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    assert _run(repo, obj, SKIPPED, 1) == 1
    assert _run(repo, obj, SKIPPED, 1) == 0  # the same run published again
    restarted = SqlRepository.sqlite(tmp_path)
    assert _run(restarted, obj, SKIPPED, 1) == 0
    assert _record(restarted).missing_scans == 1
    plan, again = _publish(restarted, obj)
    assert (plan.transitions, again["status"]["state"]) == ([], "Proposed")
    _run(restarted, obj, NO_REGION, 2)
    _run(SqlRepository.sqlite(tmp_path), obj, NO_REGION, 3)
    assert _record(restarted).state == "Expired"


def test_the_limit_is_the_policy_setting(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    _run(repo, obj, SKIPPED, 1, limit=1)
    assert _record(repo).state == "Expired"


def test_a_reported_again_expired_finding_reopens_with_no_count(tmp_path: Path) -> None:
    repo, obj = _proposed(tmp_path)
    for day in (1, 2, 3):
        _run(repo, obj, SKIPPED, day)
    _, obj = _publish(repo, obj)
    _scan(repo, _after(_before(), {}, 4))
    record = _record(repo)
    assert (record.state, record.missing_scans, record.outcome) == (None, 0, None)
    plan, obj = _publish(repo, obj)
    assert obj["status"]["state"] == "Proposed"
    assert [(t.previous, t.state) for t in plan.transitions] == [("Expired", "Proposed")]


def _finding_in(region: str) -> Finding:
    finding, _ = golden_finding({"before": f"{MODULE}/oversized-m5-2xlarge"})
    return finding.model_copy(update={"region": region})


def test_coverage_names_every_gap() -> None:
    finding = _finding_in("us-east-1")
    assert COMPLETE.gap(finding) is None
    assert Coverage(modules=frozenset({MODULE})).gap(finding) is None  # regions None: the whole account
    assert SKIPPED.gap(finding) == "account prod was skipped (NotReady)"
    assert NO_REGION.gap(finding) == "region us-east-1 was not scanned"
    assert MODULE_FAILED.gap(finding) == f"module {MODULE} failed"
    assert NOT_SELECTED.gap(finding) == f"module {MODULE} did not run (not selected by the policy)"


def _outcome(
    modules: tuple[str, ...], failed: tuple[str, ...], regions: tuple[str, ...] | None
) -> ScanOutcome:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    record = ScanRecord("s", TENANT, ACCOUNT, "nightly", "aws", "1", when, when, modules, {}, 0)
    return ScanOutcome(record=record, findings=[], failed_modules=failed, regions=regions)


def test_each_account_run_says_what_it_covered() -> None:
    finding = _finding_in("us-east-1")
    ok = AccountRun(ACCOUNT, "Succeeded", "ScanSucceeded", "", result=_outcome((MODULE,), (), ("us-east-1",)))
    failed = AccountRun("b", "Failed", "AssumeRoleDenied", "")
    skipped = AccountRun("c", "Skipped", "Suspended", "")
    partial = AccountRun("d", "Succeeded", "", "", result=_outcome((), (MODULE,), ("us-east-1",)))
    found = service.coverage_of([ok, failed, skipped, partial])
    assert found[ACCOUNT].gap(finding) is None
    assert found["b"].gap(finding) == "account b was failed (AssumeRoleDenied)"
    assert found["c"].gap(finding) == "account c was skipped (Suspended)"
    assert found["d"].gap(finding) == f"module {MODULE} failed"


def test_a_failed_module_is_not_a_module_that_ran() -> None:
    """pipeline.scan records only the modules that ran to completion (the store resolves only theirs)."""
    module = registry.get(MODULE)
    snapshot = _before()
    warnings: list[str] = []
    failed: list[str] = []
    good = Selected(module, module.spec.settings.model_validate({}))
    # Another module's settings: the module raises TypeError, a bug of the kind _evaluate contains.
    broken = Selected(registry.get("aws.ec2.idle"), good.settings)
    found = pipeline_scan._evaluate([broken, good], snapshot, warnings, failed)
    assert failed == ["aws.ec2.idle"]
    assert [f.module for f in found] == [MODULE]


def test_a_scan_covers_the_regions_of_its_shards() -> None:
    spec = CloudAccountSpec(
        provider=Provider.AWS,
        aws=AwsAccount(
            account_id="123456789012",
            role_arn="arn:aws:iam::123456789012:role/cloudios-readonly",
            external_id="team-x-ext",
            regions=["us-east-1", "eu-west-3"],
        ),
    )
    assert pipeline_scan.covered_regions(spec, None) == ("eu-west-3", "us-east-1")
    (shard, _) = providers.get(Provider.AWS).shards(spec)
    assert pipeline_scan.covered_regions(spec, shard) == ("us-east-1",)

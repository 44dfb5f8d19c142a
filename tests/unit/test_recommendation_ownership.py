"""Recommendations: only what the operator's store knows is published, counted or kept; status is
the operator's alone (the rules behind the Recommendation handler, the status webhook and summary)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from cloudios.cli import kubectl_views
from cloudios.controller.decision_rules import STATUS_IS_THE_OPERATORS, Requester, status_review
from cloudios.domain import Action, Category, Confidence, Finding, Money, Provider
from cloudios.services import recommendation_ownership
from cloudios.sinks import recommendation_objects
from cloudios.store import ScanRecord, SqlRepository

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
MANAGED = ("app.kubernetes.io/managed-by", "cloudios")


def finding(resource: str) -> Finding:
    return Finding(
        id=Finding.make_id(Provider.AWS, "111111111111", "us-east-1", resource, "aws.ec2.idle"),
        provider=Provider.AWS,
        account_id="111111111111",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id=resource,
        module="aws.ec2.idle",
        category=Category.IDLE,
        action=Action.STOP,
        title="stop",
        confidence=Confidence.HIGH,
        monthly_savings=Money(amount=Decimal(10)),
        price_basis="list",
    )


def rec(finding_id: str, account_name: str = "prod", **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "r",
            "namespace": "team-a",
            "labels": {"app.kubernetes.io/managed-by": "cloudios"},
        },
        "spec": {
            "accountRef": {"name": account_name},
            "policyRef": {"name": "daily"},
            "findingId": finding_id,
        },
        "status": status,
    }


def scan_of(account_name: str) -> ScanRecord:
    return ScanRecord(
        "s1", "team-a", account_name, "daily", "aws", "111111111111", NOW, NOW, ("aws.ec2.idle",), {}, 1
    )


def test_only_what_the_store_knows_is_the_operators(tmp_path: Path) -> None:
    store = SqlRepository.sqlite(tmp_path)
    known = finding("i-1")
    store.record_scan(scan_of("prod"), [known])

    def judge(body: dict[str, Any], *, exists: bool = True) -> recommendation_ownership.Ownership:
        return recommendation_ownership.judge(body, store, lambda _: exists)

    assert judge(rec(known.id)).stored is not None
    assert "no scan of CloudAccount prod found" in (judge(rec("f" * 20)).foreign or "")
    unlabelled = rec(known.id)
    unlabelled["metadata"]["labels"] = {}
    assert judge(unlabelled).foreign
    # The store has no history of the account (a fresh store): kept, unless the account is gone.
    assert judge(rec("f" * 20, account_name="staging")).foreign is None
    assert "does not exist" in (judge(rec("f" * 20, account_name="ghost"), exists=False).foreign or "")


def test_a_state_nobody_derives_is_replaced(tmp_path: Path) -> None:
    store = SqlRepository.sqlite(tmp_path)
    known = finding("i-1")
    store.record_scan(scan_of("prod"), [known])
    stored = store.finding("team-a", "prod", known.id)
    assert stored is not None
    forged = rec(known.id, state="Verified", firstSeen="2020-01-01T00:00:00+00:00")
    wanted = recommendation_ownership.desired_status(forged, stored)
    assert wanted["state"] == "Proposed"
    assert wanted["firstSeen"] == NOW.isoformat()
    assert recommendation_objects.desired_status(stored, forged)["state"] == "Proposed"
    approved = rec(known.id, state="Verified")
    approved["spec"]["decision"] = {"type": "Approved"}
    assert recommendation_ownership.desired_status(approved, stored)["state"] == "Approved"
    assert recommendation_ownership.desired_status(rec("x", state="Verified"), None) == {"state": "Proposed"}


def test_a_tampered_spec_is_restored_from_the_store_but_never_the_decision(tmp_path: Path) -> None:
    store = SqlRepository.sqlite(tmp_path)
    known = finding("i-1")
    store.record_scan(scan_of("prod"), [known])
    stored = store.finding("team-a", "prod", known.id)
    assert stored is not None
    want = recommendation_objects.desired_object(
        stored, recommendation_objects.PolicyRef("team-a", "daily", "")
    )
    tampered = {**rec(known.id), "spec": {**want["spec"], "decision": {"type": "Approved"}}}
    tampered["spec"]["monthlySavings"] = {"amount": "99999.00", "currency": "USD"}
    repairs = recommendation_ownership.spec_repairs(tampered, stored)
    assert [op["path"] for op in repairs] == ["/spec/monthlySavings"]
    assert repairs[0]["value"] == want["spec"]["monthlySavings"]
    assert recommendation_ownership.spec_repairs({**rec(known.id), "spec": want["spec"]}, stored) == []


def test_status_writes_are_the_operators() -> None:
    old, new = rec("f"), rec("f", state="Verified")
    refused = status_review(old=old, new=new, requester=Requester("admin"), operator_identities={"op"})
    assert (refused.allowed, refused.message, refused.code) == (False, STATUS_IS_THE_OPERATORS, 403)
    assert status_review(old=old, new=new, requester=Requester("op"), operator_identities={"op"}).allowed
    assert status_review(old=old, new=old, requester=Requester("admin"), operator_identities={"op"}).allowed


def test_the_summary_counts_only_confirmed_recommendations() -> None:
    confirmed = rec("f", state="Proposed", firstSeen=NOW.isoformat())
    assert kubectl_views.published(confirmed)
    assert not kubectl_views.published(rec("f"))  # no status: the operator never wrote one
    unlabelled = rec("f", state="Proposed", firstSeen=NOW.isoformat())
    unlabelled["metadata"]["labels"] = {}
    assert not kubectl_views.published(unlabelled)

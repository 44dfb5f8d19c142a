"""Decision rules: who may change what on a Recommendation, stamps that cannot be forged, audit on decide."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest

from cloudios.controller import decisions
from cloudios.controller.decision_rules import (
    STAMPS_ARE_SERVER_SIDE,
    USERS_MAY_NOT_CREATE,
    USERS_MAY_ONLY_DECIDE,
    Requester,
    action_for,
    audit_details,
    decision_changed,
    json_patch,
    review,
    stamp_changes,
    state_for,
)
from cloudios.security.audit import AuditEntry, AuditEvent

NOW = datetime(2026, 11, 2, 9, 30, 15, tzinfo=UTC)
OPERATOR = "system:serviceaccount:cloudios-system:cloudios"
ALICE = Requester(username="alice@example.com", groups=("team-a-admins",))


def rec(decision: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "Recommendation",
        "metadata": {"name": "rec-1", "namespace": "team-a", "uid": "u-1"},
        "spec": {
            "findingId": "f123",
            "module": "aws.ec2.idle",
            "monthlySavings": {"amount": "42.10", "currency": "USD"},
            "title": "Stop idle i-1",
            **spec,
        },
        "status": {"state": "Proposed"},
    }
    if decision is not None:
        body["spec"]["decision"] = decision
    return body


def stamped(decision: dict[str, Any], by: str = ALICE.username, at: datetime = NOW) -> dict[str, Any]:
    return {**decision, "decidedBy": by, "decidedAt": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def check(old: dict[str, Any] | None, new: dict[str, Any], who: Requester = ALICE, op: str = "UPDATE") -> Any:
    return review(operation=op, old=old, new=new, requester=who, operator_identities={OPERATOR}, now=NOW)


# ------------------------------------------------------------------------------------- mutation


def test_a_new_decision_is_stamped_with_the_requester_and_now() -> None:
    old, new = rec(), rec({"type": "Approved", "reason": "idle for weeks"})
    changes, warnings = stamp_changes(old, new, ALICE.username, NOW)
    assert changes == {"decidedBy": "alice@example.com", "decidedAt": "2026-11-02T09:30:15Z"}
    assert warnings == []
    assert json_patch(new, changes) == [
        {"op": "add", "path": "/spec/decision/decidedBy", "value": "alice@example.com"},
        {"op": "add", "path": "/spec/decision/decidedAt", "value": "2026-11-02T09:30:15Z"},
    ]


def test_user_supplied_stamps_are_overwritten_with_a_warning() -> None:
    forged = {"type": "Approved", "decidedBy": "the-cfo", "decidedAt": "2020-01-01T00:00:00Z"}
    changes, warnings = stamp_changes(rec(), rec(forged), ALICE.username, NOW)
    assert changes == {"decidedBy": "alice@example.com", "decidedAt": "2026-11-02T09:30:15Z"}
    assert len(warnings) == 2
    assert all("replaced" in w for w in warnings)
    ops = json_patch(rec(forged), changes)
    assert {op["op"] for op in ops} == {"replace"}


def test_changing_type_or_reason_restamps_silently_when_the_old_stamps_were_carried_over() -> None:
    old = rec(stamped({"type": "Approved"}, by="bob", at=NOW - timedelta(days=1)))
    new = copy.deepcopy(old)
    new["spec"]["decision"]["type"] = "Dismissed"  # a merge patch of the type keeps bob's stamps
    changes, warnings = stamp_changes(old, new, ALICE.username, NOW)
    assert changes["decidedBy"] == ALICE.username
    assert warnings == []
    reason_only = copy.deepcopy(old)
    reason_only["spec"]["decision"]["reason"] = "changed my mind"
    assert decision_changed(old, reason_only)
    assert stamp_changes(old, reason_only, ALICE.username, NOW)[0]["decidedBy"] == ALICE.username


def test_an_unchanged_decision_keeps_its_stamps_whatever_the_request_sent() -> None:
    old = rec(stamped({"type": "Approved"}, by="bob"))
    new = copy.deepcopy(old)
    new["spec"]["decision"]["decidedBy"] = "mallory"
    del new["spec"]["decision"]["decidedAt"]
    changes, warnings = stamp_changes(old, new, "mallory", NOW)
    assert changes == {"decidedBy": "bob", "decidedAt": old["spec"]["decision"]["decidedAt"]}
    assert warnings == ["spec.decision.decidedBy is set by Cloudios; the value sent was replaced"]
    assert stamp_changes(old, copy.deepcopy(old), "mallory", NOW) == ({}, [])
    assert stamp_changes(rec(), rec(), "mallory", NOW) == ({}, [])  # no decision, nothing to stamp


# ------------------------------------------------------------------------------------- validation


def test_users_may_change_only_the_decision() -> None:
    old = rec()
    assert check(old, rec(stamped({"type": "Approved"}))).decides
    for field, value in (("monthlySavings", {"amount": "99999", "currency": "USD"}), ("title", "x")):
        verdict = check(old, rec(**{field: value}))
        assert (verdict.allowed, verdict.message, verdict.code) == (False, USERS_MAY_ONLY_DECIDE, 403)
    # Even together with a valid decision, another spec change is refused.
    both = rec(stamped({"type": "Approved"}), title="cheaper")
    assert not check(old, both).allowed
    status = rec()
    status["status"]["state"] = "Verified"
    assert not check(old, status).allowed
    labelled = rec()
    labelled["metadata"]["labels"] = {"team": "a"}
    assert check(old, labelled).allowed  # metadata is not Cloudios data


def test_users_may_not_create_recommendations_but_the_operator_may() -> None:
    assert check(None, rec(), op="CREATE").message == USERS_MAY_NOT_CREATE
    assert check(None, rec(), who=Requester(OPERATOR), op="CREATE").allowed


def test_the_operator_may_change_the_rest_but_not_forge_a_decision() -> None:
    op = Requester(OPERATOR)
    old = rec(stamped({"type": "Approved"}))
    updated = rec(stamped({"type": "Approved"}), monthlySavings={"amount": "50.00", "currency": "USD"})
    assert check(old, updated, who=op) == check(old, old, who=op)  # allowed, not a decision
    assert not check(old, updated, who=op).decides
    forged = rec(stamped({"type": "Approved"}, by="alice@example.com"))
    assert check(rec(), forged, who=op).message == STAMPS_ARE_SERVER_SIDE
    # Its own decision goes through the same `approve` check and audit as anyone's.
    assert check(rec(), rec(stamped({"type": "Dismissed"}, by=OPERATOR)), who=op).decides


def test_stamps_that_the_mutating_webhook_did_not_set_are_refused() -> None:
    for bad in (
        {"type": "Approved"},  # not stamped at all
        stamped({"type": "Approved"}, by="someone-else"),
        stamped({"type": "Approved"}, at=NOW - timedelta(hours=1)),  # back-dated
        {"type": "Approved", "decidedBy": ALICE.username, "decidedAt": "yesterday"},
    ):
        assert check(rec(), rec(bad)).message == STAMPS_ARE_SERVER_SIDE
    old = rec(stamped({"type": "Approved"}, by="bob"))
    rewritten = rec(stamped({"type": "Approved"}, by="alice@example.com"))
    assert check(old, rewritten).message == STAMPS_ARE_SERVER_SIDE  # no re-attribution


def test_unknown_decision_types_are_refused() -> None:
    assert check(rec(), rec(stamped({"type": "Maybe"}))).code == 400


def test_actions_states_and_audit_details() -> None:
    assert action_for(rec({"type": "Approved"})) == "recommendation.approved"
    assert action_for(rec({"type": "Dismissed"})) == "recommendation.dismissed"
    assert action_for(rec()) == "recommendation.decision_withdrawn"
    withdrawn = check(rec(stamped({"type": "Approved"})), rec())
    assert (withdrawn.decides, withdrawn.action) == (True, "recommendation.decision_withdrawn")
    assert [state_for(t) for t in ("Approved", "Dismissed", None)] == ["Approved", "Dismissed", "Proposed"]
    assert audit_details(rec({"type": "Dismissed", "reason": "kept for DR"})) == {
        "uid": "u-1",
        "findingId": "f123",
        "module": "aws.ec2.idle",
        "monthlySavings": {"amount": "42.10", "currency": "USD"},
        "reason": "kept for DR",
    }


def test_requester_from_userinfo() -> None:
    info = {"username": "u", "uid": "1", "groups": ["g", "system:authenticated"], "extra": {"k": ["v"]}}
    assert Requester.from_userinfo(info) == Requester("u", ("g", "system:authenticated"), "1", {"k": ("v",)})
    assert Requester.from_userinfo(None).username == ""


# ------------------------------------------------------------------------------------- kopf handlers


class FakeAudit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def append(self, event: AuditEvent, *, skip_repeat: bool = False) -> AuditEntry:
        self.events.append(event)
        return AuditEntry(
            len(self.events), event.tenant, event.actor, event.action, event.target, "", {}, "", ""
        )


@pytest.fixture
def handlers() -> tuple[Any, Any, FakeAudit, list[str]]:
    registry = kopf.OperatorRegistry()
    audit, asked = FakeAudit(), []

    def authorizer(requester: Requester, *, namespace: str, name: str) -> decisions.Access:
        asked.append(f"{requester.username}@{namespace}/{name}")
        return decisions.Access(allowed=requester.username == ALICE.username)

    decisions.register(
        registry,
        store_factory=lambda: audit,
        operator_identities={OPERATOR},
        authorizer=authorizer,
        clock=lambda: NOW,
    )
    by_id = {h.id: h.fn for h in registry._webhooks.get_all_handlers()}
    return by_id[decisions.MUTATE_ID], by_id[decisions.VALIDATE_ID], audit, asked


def _call(fn: Any, old: Any, new: Any, user: str, **kw: Any) -> Any:
    return fn(
        old=kopf.Body(old) if old else None,
        new=kopf.Body(new),
        userinfo={"username": user, "groups": []},
        operation="UPDATE",
        logger=logging.getLogger("test"),
        **kw,
    )


def test_the_handlers_stamp_check_approve_and_audit_once(handlers: Any) -> None:
    mutate, validate, audit, asked = handlers
    new = rec({"type": "Approved", "decidedBy": "the-cfo"})
    patch, warnings = kopf.Patch(body=kopf.Body(new)), []
    _call(mutate, rec(), new, ALICE.username, patch=patch, warnings=warnings, dryrun=False)
    assert patch["spec"]["decision"]["decidedBy"] == ALICE.username
    assert {"op": "replace", "path": "/spec/decision/decidedBy", "value": ALICE.username} in (
        patch.as_json_patch()
    )
    assert warnings
    admitted = rec(stamped({"type": "Approved"}))
    _call(validate, rec(), admitted, ALICE.username, dryrun=True)
    assert audit.events == []  # a dry run is checked but never recorded
    _call(validate, rec(), admitted, ALICE.username, dryrun=False)
    assert [(e.actor, e.action, e.target) for e in audit.events] == [
        (ALICE.username, "recommendation.approved", "team-a/rec-1")
    ]
    assert asked == [f"{ALICE.username}@team-a/rec-1"] * 2


def test_decisions_are_logged_without_the_approvers_name(
    handlers: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _, validate, audit, _ = handlers
    with caplog.at_level(logging.INFO, logger="test"):
        _call(validate, rec(), rec(stamped({"type": "Approved"})), ALICE.username, dryrun=False)
    assert [e.actor for e in audit.events] == [ALICE.username]  # the audit log keeps who decided
    assert "recommendation.approved recorded as audit seq 1" in caplog.text
    assert ALICE.username not in caplog.text
    assert "alice" not in caplog.text


def test_the_handlers_deny_without_approve_and_for_other_spec_changes(handlers: Any) -> None:
    _, validate, audit, _ = handlers
    with pytest.raises(
        kopf.AdmissionError, match=r"cloudios-admin or cloudios-owner role in namespace team-a"
    ):
        _call(validate, rec(), rec(stamped({"type": "Approved"}, by="bob")), "bob", dryrun=False)
    with pytest.raises(kopf.AdmissionError, match=r"only spec\.decision may be changed"):
        _call(validate, rec(), rec(title="free money"), ALICE.username, dryrun=False)
    assert audit.events == []

"""Who may change what on a Recommendation and how a decision is stamped: pure rules, no kopf."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cloudios.security.audit import JsonValue

APPROVE_VERB = "approve"
DECISION_TYPES = ("Approved", "Dismissed")
VERDICT_FIELDS = ("type", "reason")
STAMP_FIELDS = ("decidedBy", "decidedAt")
# The mutating webhook stamps decidedAt moments before validation; the slack covers clock skew
# between operator replicas, never a hand-written time from the past.
STAMP_TOLERANCE = timedelta(minutes=5)

USERS_MAY_ONLY_DECIDE = "only spec.decision may be changed by users; the operator owns the rest"
USERS_MAY_NOT_CREATE = (
    "Recommendations are published by the Cloudios operator; users may only set spec.decision on them"
)
STAMPS_ARE_SERVER_SIDE = (
    "spec.decision.decidedBy and spec.decision.decidedAt are set by Cloudios from the authenticated "
    "request and cannot be written by hand"
)
FORGED_STAMP_WARNING = "spec.decision.{field} is set by Cloudios; the value sent was replaced"
STATUS_IS_THE_OPERATORS = (
    "a Recommendation's status is written by the Cloudios operator only (from its store and the "
    "decision); decide with spec.decision, e.g. kubectl cloudios approve"
)
FORBIDDEN, BAD_REQUEST = 403, 400


def decide_role_message(namespace: str) -> str:
    return f"deciding needs the cloudios-admin or cloudios-owner role in namespace {namespace}"


@dataclass(frozen=True)
class Requester:
    """The authenticated user of an API request, as the API server reports it to admission."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str = ""
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_userinfo(cls, userinfo: Mapping[str, Any] | None) -> Requester:
        info = userinfo or {}
        extra = info.get("extra") or {}
        return cls(
            username=str(info.get("username") or ""),
            groups=tuple(str(g) for g in info.get("groups") or ()),
            uid=str(info.get("uid") or ""),
            extra={str(k): tuple(str(v) for v in vs or ()) for k, vs in extra.items()},
        )


def decision_of(body: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    decision = ((body or {}).get("spec") or {}).get("decision")
    return decision if isinstance(decision, Mapping) else None


def verdict_of(body: Mapping[str, Any] | None) -> tuple[Any, Any] | None:
    """The user-written part of the decision (type, reason), or None when there is no decision."""
    decision = decision_of(body)
    if decision is None:
        return None
    return decision.get("type"), decision.get("reason") or None


def decision_changed(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> bool:
    """A request decides when it adds, removes or changes the decision's type or reason."""
    return verdict_of(old) != verdict_of(new)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_stamps(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, username: str, now: datetime
) -> dict[str, str] | None:
    """decidedBy/decidedAt the new object must carry; None when it has no decision.

    A new or changed verdict is stamped with the requester and now; an unchanged one keeps the
    stamps it had, whatever the request sent.
    """
    if decision_of(new) is None:
        return None
    if decision_changed(old, new):
        return {"decidedBy": username, "decidedAt": rfc3339(now)}
    previous = decision_of(old) or {}
    return {k: str(previous[k]) for k in STAMP_FIELDS if previous.get(k) is not None}


def stamp_changes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None, username: str, now: datetime
) -> tuple[dict[str, str | None], list[str]]:
    """Merge-patch values for spec.decision (None removes a key) and warnings about replaced values.

    A warning is given only for a value the request itself wrote: stamps carried over from the
    stored object (a merge patch that changes only the type) are replaced silently.
    """
    expected = expected_stamps(old, new, username, now)
    decision = decision_of(new)
    if expected is None or decision is None:
        return {}, []
    previous = decision_of(old) or {}
    changes: dict[str, str | None] = {}
    warnings: list[str] = []
    for key in STAMP_FIELDS:
        sent, wanted = decision.get(key), expected.get(key)
        if sent == wanted:
            continue
        changes[key] = wanted
        if sent is not None and sent != previous.get(key):
            warnings.append(FORGED_STAMP_WARNING.format(field=key))
    return changes, warnings


def json_patch(new: Mapping[str, Any], changes: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """The same changes as RFC 6902 operations on the new object (what the API server applies)."""
    decision = decision_of(new) or {}
    ops: list[dict[str, Any]] = []
    for key, value in changes.items():
        path = f"/spec/decision/{key}"
        if value is None:
            if key in decision:
                ops.append({"op": "remove", "path": path})
        else:
            ops.append({"op": "replace" if key in decision else "add", "path": path, "value": value})
    return ops


@dataclass(frozen=True)
class Review:
    """The validating verdict on one request; ``decides`` means: check `approve`, then audit."""

    allowed: bool
    message: str = ""
    code: int = 200
    decides: bool = False
    action: str = ""


def _without_decision(body: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = dict((body or {}).get("spec") or {})
    spec.pop("decision", None)
    return spec


def review(
    *,
    operation: str | None,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    requester: Requester,
    operator_identities: Collection[str],
    now: datetime,
) -> Review:
    """Rules (b) users change only spec.decision, (a) the operator the rest, never forged stamps.

    Rule (c), holding `approve`, needs the API server and is checked by the caller when
    ``decides`` is set; so is (d), the audit entry.
    """
    if operation not in {"CREATE", "UPDATE"} or new is None:
        return Review(allowed=True)
    is_operator = requester.username in operator_identities
    if not is_operator:
        if operation == "CREATE":
            return Review(allowed=False, message=USERS_MAY_NOT_CREATE, code=FORBIDDEN)
        if _without_decision(old) != _without_decision(new) or (old or {}).get("status") != new.get("status"):
            return Review(allowed=False, message=USERS_MAY_ONLY_DECIDE, code=FORBIDDEN)
    problem = _decision_problem(old, new, requester.username, now)
    if problem is not None:
        return problem
    if not decision_changed(old, new):
        return Review(allowed=True)
    return Review(allowed=True, decides=True, action=action_for(new))


def status_review(
    *,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    requester: Requester,
    operator_identities: Collection[str],
) -> Review:
    """Writes to recommendations/status: the operator's alone (a state set by hand would stick)."""
    if new is None or requester.username in operator_identities:
        return Review(allowed=True)
    if (old or {}).get("status") != new.get("status"):
        return Review(allowed=False, message=STATUS_IS_THE_OPERATORS, code=FORBIDDEN)
    return Review(allowed=True)


def _decision_problem(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], username: str, now: datetime
) -> Review | None:
    decision = decision_of(new)
    if decision is not None and decision.get("type") not in DECISION_TYPES:
        return Review(
            allowed=False, message="spec.decision.type must be Approved or Dismissed", code=BAD_REQUEST
        )
    if not _stamps_ok(old, new, username, now):
        return Review(allowed=False, message=STAMPS_ARE_SERVER_SIDE, code=FORBIDDEN)
    return None


def _stamps_ok(old: Mapping[str, Any] | None, new: Mapping[str, Any], username: str, now: datetime) -> bool:
    decision = decision_of(new)
    if decision is None:
        return True
    present = {k: decision.get(k) for k in STAMP_FIELDS}
    if not decision_changed(old, new):
        previous = decision_of(old) or {}
        return present == {k: previous.get(k) for k in STAMP_FIELDS}
    if present["decidedBy"] != username or not isinstance(present["decidedAt"], str):
        return False
    try:
        stamped = datetime.fromisoformat(present["decidedAt"])
    except ValueError:
        return False
    return stamped.tzinfo is not None and abs(now - stamped) <= STAMP_TOLERANCE


def action_for(body: Mapping[str, Any] | None) -> str:
    verdict = verdict_of(body)
    if verdict is None:
        return "recommendation.decision_withdrawn"
    return f"recommendation.{str(verdict[0]).lower()}"


def state_for(decision_type: str | None) -> str:
    """status.state a decision leads to (the controller owns status): Approved, Dismissed or Proposed."""
    return decision_type if decision_type in DECISION_TYPES else "Proposed"


def target_of(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def audit_details(body: Mapping[str, Any]) -> dict[str, JsonValue]:
    """What an audit entry records about a decision: no free-form evidence, only identifiers and money."""
    spec = body.get("spec") or {}
    money = spec.get("monthlySavings") or {}
    decision = decision_of(body) or {}
    return {
        "uid": str((body.get("metadata") or {}).get("uid", "")),
        "findingId": str(spec.get("findingId", "")),
        "module": str(spec.get("module", "")),
        "monthlySavings": {
            "amount": str(money.get("amount", "")),
            "currency": str(money.get("currency", "")),
        },
        "reason": str(decision.get("reason") or ""),
    }

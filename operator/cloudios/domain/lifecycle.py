"""The Recommendation life cycle: every state, every transition and what triggers it (pure).

One table, ``TRANSITIONS``, is the whole state machine; docs/operator.md shows it and the tests walk
every edge. Who fires each trigger:

- ``approve`` / ``dismiss`` / ``withdraw``: a user's ``spec.decision`` (set, set, removed).
- ``resolve``: a scan that fully covered the finding's scope no longer reports it and the resource
  does not match the proposal (the waste went away some other way); ``reopen``: a later scan
  reports it again.
- ``apply``: a scan's inventory shows the resource as proposed (type changed, volume gone, requests
  lowered within tolerance); approved or not, an applied change is a fact.
- ``verify``: the module's verification window of post-change data has passed and the realized
  saving is recorded.
- ``expire``: the evidence is older than its window (Proposed), or the finding's scope was not
  scanned for N consecutive runs (Proposed or Approved; ``unseen_count`` and ``expires_unseen``).

Unseen scans. A run that did not fully cover a Recommendation's scope — its account was skipped
(suspended, not Ready) or its scan failed, its region was not scanned (no longer listed, or its shard
failed), its module failed or is not selected by the policy — can neither confirm the finding nor
say it is gone: it neither resolves nor confirms it, and counts one unseen scan. A run that covered
the scope fully resets the count (it reported the finding again, or resolved or applied it as
usual). After ``spec.closedLoop.expireAfterUnseenScans`` (default 3) consecutive unseen scans a
Proposed or Approved Recommendation moves to Expired. Each run counts once: the count is stored with
the run it last counted (a publish repeated after a failure or a restart counts nothing again).

``Regressed`` is not a state: it is a condition on an Applied or Verified recommendation (the change
happened; it hurt). A state is never set twice: a trigger that would keep the state is refused.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """status.state of a Recommendation."""

    PROPOSED = "Proposed"
    APPROVED = "Approved"
    APPLIED = "Applied"
    VERIFIED = "Verified"
    DISMISSED = "Dismissed"
    EXPIRED = "Expired"
    RESOLVED = "Resolved"


class Trigger(StrEnum):
    """What moves a Recommendation from one state to the next."""

    APPROVE = "approve"
    DISMISS = "dismiss"
    WITHDRAW = "withdraw"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    APPLY = "apply"
    VERIFY = "verify"
    EXPIRE = "expire"


P, A, AP, V, D, E, R = (
    State.PROPOSED,
    State.APPROVED,
    State.APPLIED,
    State.VERIFIED,
    State.DISMISSED,
    State.EXPIRED,
    State.RESOLVED,
)

TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (P, Trigger.APPROVE): A,
    (D, Trigger.APPROVE): A,
    (P, Trigger.DISMISS): D,
    (A, Trigger.DISMISS): D,
    (A, Trigger.WITHDRAW): P,
    (D, Trigger.WITHDRAW): P,
    (P, Trigger.APPLY): AP,
    (A, Trigger.APPLY): AP,
    (D, Trigger.APPLY): AP,
    (AP, Trigger.VERIFY): V,
    (P, Trigger.EXPIRE): E,
    (A, Trigger.EXPIRE): E,
    (P, Trigger.RESOLVE): R,
    (A, Trigger.RESOLVE): R,
    (D, Trigger.RESOLVE): R,
    (R, Trigger.REOPEN): P,
    (E, Trigger.REOPEN): P,
}
"""(from, trigger) -> to. Anything not listed is refused."""

TRIGGER_SOURCES: dict[Trigger, str] = {
    Trigger.APPROVE: "user: spec.decision.type Approved",
    Trigger.DISMISS: "user: spec.decision.type Dismissed",
    Trigger.WITHDRAW: "user: spec.decision removed",
    Trigger.RESOLVE: "scan: the finding is no longer reported and the resource does not match the proposal",
    Trigger.REOPEN: "scan: the finding is reported again",
    Trigger.APPLY: "scan: the inventory shows the resource as proposed (appliedAt, approved true|false)",
    Trigger.VERIFY: "scan: the verification window of post-change data passed; realized saving recorded",
    Trigger.EXPIRE: "scan: evidence older than its window (Proposed), or its account, region or module "
    "not fully scanned for expireAfterUnseenScans consecutive runs (Proposed, Approved)",
}
"""Who fires each trigger, for the documentation table."""

FINAL = frozenset({V})
"""States nothing leaves."""


class IllegalTransitionError(ValueError):
    """A trigger that does not apply in the current state (including one that would keep it)."""

    def __init__(self, state: State, trigger: Trigger) -> None:
        super().__init__(f"{trigger.value} is not a transition from {state.value}")
        self.state = state
        self.trigger = trigger


def allowed(state: State, trigger: Trigger) -> bool:
    return (state, trigger) in TRANSITIONS


def advance(state: State, trigger: Trigger) -> State:
    """The state ``trigger`` leads to from ``state``; IllegalTransitionError when it does not apply."""
    found = TRANSITIONS.get((state, trigger))
    if found is None:
        raise IllegalTransitionError(state, trigger)
    return found


def unseen_count(count: int, *, covered: bool) -> int:
    """Consecutive unseen scans after one more run: one that fully covered the scope resets them."""
    return 0 if covered else count + 1


def expires_unseen(state: State, count: int, limit: int) -> bool:
    """Whether ``count`` consecutive unseen scans expire a Recommendation in ``state`` (Proposed or
    Approved: the states ``expire`` leaves)."""
    return count >= limit and allowed(state, Trigger.EXPIRE)


def path(start: State, end: State) -> list[Trigger] | None:
    """The shortest run of triggers from ``start`` to ``end`` (one write can cover two steps, e.g. a
    reopened finding that a user had approved: reopen, approve); None when the table has no way."""
    frontier: list[tuple[State, list[Trigger]]] = [(start, [])]
    seen = {start}
    while frontier:
        state, steps = frontier.pop(0)
        for (source, trigger), target in TRANSITIONS.items():
            if source is state and target not in seen:
                if target is end:
                    return [*steps, trigger]
                seen.add(target)
                frontier.append((target, [*steps, trigger]))
    return None


def table() -> list[tuple[str, str, str, str]]:
    """(from, trigger, to, fired by) rows, in declaration order: the docs table."""
    return [(s.value, t.value, to.value, TRIGGER_SOURCES[t]) for (s, t), to in TRANSITIONS.items()]

"""The Recommendation state machine: every edge, every refused transition, no skipped or repeated state."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudios.domain.lifecycle import (
    FINAL,
    TRANSITIONS,
    IllegalTransitionError,
    State,
    Trigger,
    advance,
    allowed,
    expires_unseen,
    path,
    table,
    unseen_count,
)

EXPECTED = {
    ("Proposed", "approve"): "Approved",
    ("Dismissed", "approve"): "Approved",
    ("Proposed", "dismiss"): "Dismissed",
    ("Approved", "dismiss"): "Dismissed",
    ("Approved", "withdraw"): "Proposed",
    ("Dismissed", "withdraw"): "Proposed",
    ("Proposed", "apply"): "Applied",
    ("Approved", "apply"): "Applied",
    ("Dismissed", "apply"): "Applied",
    ("Applied", "verify"): "Verified",
    ("Proposed", "expire"): "Expired",
    ("Approved", "expire"): "Expired",
    ("Proposed", "resolve"): "Resolved",
    ("Approved", "resolve"): "Resolved",
    ("Dismissed", "resolve"): "Resolved",
    ("Resolved", "reopen"): "Proposed",
    ("Expired", "reopen"): "Proposed",
}


@pytest.mark.parametrize(("edge", "to"), sorted(EXPECTED.items()))
def test_every_edge(edge: tuple[str, str], to: str) -> None:
    assert advance(State(edge[0]), Trigger(edge[1])) == State(to)


def test_the_table_is_exactly_the_documented_edges() -> None:
    assert {(s.value, t.value): to.value for (s, t), to in TRANSITIONS.items()} == EXPECTED
    assert [(f, t, to) for f, t, to, _ in table()] == [(s, t, to) for (s, t), to in EXPECTED.items()]


@pytest.mark.parametrize(
    ("state", "trigger"),
    [(s, t) for s, t in itertools.product(State, Trigger) if (s.value, t.value) not in EXPECTED],
)
def test_every_other_transition_is_refused(state: State, trigger: Trigger) -> None:
    assert not allowed(state, trigger)
    with pytest.raises(IllegalTransitionError):
        advance(state, trigger)


def test_verified_is_reached_only_from_applied_and_is_final() -> None:
    assert [s for (s, _), to in TRANSITIONS.items() if to is State.VERIFIED] == [State.APPLIED]
    assert {State.VERIFIED} == FINAL
    assert not any(s in FINAL for s, _ in TRANSITIONS)


def test_applied_is_left_only_by_verify() -> None:
    """A change that happened does not become Proposed, Resolved or Expired again."""
    assert [t for (s, t) in TRANSITIONS if s is State.APPLIED] == [Trigger.VERIFY]


@given(st.lists(st.sampled_from(list(Trigger)), max_size=40))
def test_no_state_is_skipped_or_set_twice(triggers: list[Trigger]) -> None:
    state = State.PROPOSED
    path = [state]
    for trigger in triggers:
        if not allowed(state, trigger):
            with pytest.raises(IllegalTransitionError):
                advance(state, trigger)
            continue
        state = advance(state, trigger)
        assert state != path[-1], "a transition never keeps the state"
        path.append(state)
    for before, after in itertools.pairwise(path):
        if after is State.VERIFIED:
            assert before is State.APPLIED
        if after is State.APPLIED:
            assert before in (State.PROPOSED, State.APPROVED, State.DISMISSED)
    assert path.count(State.APPLIED) <= 1
    assert path.count(State.VERIFIED) <= 1


def test_path_names_the_triggers_of_a_compound_write() -> None:
    assert path(State.PROPOSED, State.APPLIED) == [Trigger.APPLY]
    assert path(State.RESOLVED, State.APPROVED) == [Trigger.REOPEN, Trigger.APPROVE]
    assert path(State.EXPIRED, State.APPLIED) == [Trigger.REOPEN, Trigger.APPLY]
    assert path(State.APPLIED, State.PROPOSED) is None
    assert path(State.VERIFIED, State.APPLIED) is None
    assert path(State.RESOLVED, State.VERIFIED) == [Trigger.REOPEN, Trigger.APPLY, Trigger.VERIFY]


@pytest.mark.parametrize(
    ("count", "covered", "after"), [(0, False, 1), (2, False, 3), (0, True, 0), (2, True, 0), (7, True, 0)]
)
def test_an_uncovered_run_counts_one_unseen_scan_and_a_covered_one_resets(
    count: int, covered: bool, after: int
) -> None:
    assert unseen_count(count, covered=covered) == after


@pytest.mark.parametrize(
    ("state", "count", "expires"),
    [
        (State.PROPOSED, 2, False),
        (State.PROPOSED, 3, True),
        (State.APPROVED, 3, True),
        (State.APPROVED, 4, True),
        (State.DISMISSED, 3, False),  # a user's decision to leave it: nothing to expire
        (State.APPLIED, 5, False),
        (State.VERIFIED, 5, False),
        (State.RESOLVED, 5, False),
        (State.EXPIRED, 5, False),  # never set twice
    ],
)
def test_n_unseen_scans_expire_only_proposed_and_approved(state: State, count: int, expires: bool) -> None:
    assert expires_unseen(state, count, 3) is expires

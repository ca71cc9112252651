from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordmatch.bank.lifecycle import (
    TERMINAL,
    TRANSITIONS,
    UnitState,
    allowed_next,
    can_move,
    check_transition,
)
from cordmatch.errors import ConflictError, InvalidInputError

S = UnitState

MAIN_PATH = [
    S.COLLECTED, S.RECEIVED, S.PROCESSED, S.CRYOPRESERVED, S.QUARANTINE,
    S.AVAILABLE, S.RESERVED, S.SHIPPED, S.INFUSED,
]  # fmt: skip


def test_main_path_is_allowed() -> None:
    for a, b in itertools.pairwise(MAIN_PATH):
        check_transition(a, b)


def test_exits() -> None:
    for s in (S.COLLECTED, S.QUARANTINE, S.AVAILABLE, S.RESERVED, S.SHIPPED):
        assert can_move(s, S.DISCARDED)
    for s in (S.PROCESSED, S.CRYOPRESERVED, S.QUARANTINE, S.AVAILABLE):
        assert can_move(s, S.RESEARCH)
    assert not can_move(S.SHIPPED, S.RESEARCH)
    assert {S.INFUSED, S.DISCARDED, S.RESEARCH} == TERMINAL


def test_illegal_transition_names_states() -> None:
    with pytest.raises(ConflictError) as exc:
        check_transition("collected", "available", din="G123498654321")
    msg = str(exc.value)
    assert "from collected to available" in msg and "G123498654321" in msg and "received" in msg
    with pytest.raises(ConflictError, match="final state"):
        check_transition(S.INFUSED, S.AVAILABLE)
    with pytest.raises(InvalidInputError, match="unknown unit state"):
        check_transition("frozen", "available")


def test_every_state_reachable_from_collected() -> None:
    seen, todo = {S.COLLECTED}, [S.COLLECTED]
    while todo:
        for n in TRANSITIONS[todo.pop()]:
            if n not in seen:
                seen.add(n)
                todo.append(n)
    assert seen == set(UnitState)
    assert allowed_next("reserved") == [S.AVAILABLE, S.SHIPPED, S.DISCARDED]


@given(st.lists(st.sampled_from(list(UnitState)), max_size=40))
def test_random_walk_never_reaches_illegal_state(targets: list[UnitState]) -> None:
    """Apply arbitrary requested moves; refused ones change nothing; the path stays a legal path."""
    state = S.COLLECTED
    path = [state]
    for t in targets:
        try:
            check_transition(state, t)
        except ConflictError:
            continue
        state = t
        path.append(state)
    for a, b in itertools.pairwise(path):
        assert b in TRANSITIONS[a]
    # nothing ever leaves a terminal state, and infused is only reached through shipped
    for i, s in enumerate(path):
        if s in TERMINAL:
            assert i == len(path) - 1
        if s == S.INFUSED:
            assert path[i - 1] == S.SHIPPED
        if s == S.AVAILABLE:
            assert S.QUARANTINE in path[:i]

"""The unit lifecycle state machine (domain.md section 6).

collected -> received -> processed -> cryopreserved -> quarantine -> available (listed) -> reserved
-> shipped -> infused; ``discarded`` and ``research`` are exits. A reservation that is cancelled or
expires takes the unit from reserved back to available. Moving quarantine -> available is the QC
release (an exceptional release is the same move, flagged on the unit with its reason).
"""

from __future__ import annotations

from enum import StrEnum

from cordmatch.errors import ConflictError


class UnitState(StrEnum):
    COLLECTED = "collected"
    RECEIVED = "received"
    PROCESSED = "processed"
    CRYOPRESERVED = "cryopreserved"
    QUARANTINE = "quarantine"
    AVAILABLE = "available"
    RESERVED = "reserved"
    SHIPPED = "shipped"
    INFUSED = "infused"
    DISCARDED = "discarded"
    RESEARCH = "research"


S = UnitState

TRANSITIONS: dict[UnitState, frozenset[UnitState]] = {
    S.COLLECTED: frozenset({S.RECEIVED, S.DISCARDED}),
    S.RECEIVED: frozenset({S.PROCESSED, S.DISCARDED, S.RESEARCH}),
    S.PROCESSED: frozenset({S.CRYOPRESERVED, S.DISCARDED, S.RESEARCH}),
    S.CRYOPRESERVED: frozenset({S.QUARANTINE, S.DISCARDED, S.RESEARCH}),
    S.QUARANTINE: frozenset({S.AVAILABLE, S.DISCARDED, S.RESEARCH}),
    S.AVAILABLE: frozenset({S.RESERVED, S.DISCARDED, S.RESEARCH}),
    S.RESERVED: frozenset({S.AVAILABLE, S.SHIPPED, S.DISCARDED}),
    S.SHIPPED: frozenset({S.INFUSED, S.DISCARDED}),
    S.INFUSED: frozenset(),
    S.DISCARDED: frozenset(),
    S.RESEARCH: frozenset(),
}

TERMINAL: frozenset[UnitState] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

# Moves that only a dedicated service call may make (they need more than a state change).
GUARDED: dict[tuple[UnitState, UnitState], str] = {
    (S.QUARANTINE, S.AVAILABLE): "release (QC decision)",
    (S.AVAILABLE, S.RESERVED): "reserve",
    (S.RESERVED, S.AVAILABLE): "cancel or expire the reservation",
    (S.RESERVED, S.SHIPPED): "ship",
    (S.SHIPPED, S.INFUSED): "infuse",
}


def state_of(value: str | UnitState) -> UnitState:
    """The state named ``value``; InvalidInputError for an unknown name."""
    try:
        return UnitState(value)
    except ValueError:
        from cordmatch.errors import InvalidInputError

        known = ", ".join(s.value for s in UnitState)
        raise InvalidInputError(f"unknown unit state {value!r} (known: {known})", where="state") from None


def can_move(current: UnitState, target: UnitState) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: UnitState | str, target: UnitState | str, *, din: str | None = None) -> None:
    """Return when ``current -> target`` is allowed, else raise ConflictError naming both states."""
    cur, tgt = state_of(current), state_of(target)
    if tgt not in TRANSITIONS[cur]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[cur])) or "none (final state)"
        who = f"unit {din}" if din else "unit"
        raise ConflictError(
            f"{who} cannot move from {cur.value} to {tgt.value}; allowed from {cur.value}: {allowed}",
            where="state",
        )


def allowed_next(current: UnitState | str) -> list[UnitState]:
    return sorted(TRANSITIONS[state_of(current)], key=list(UnitState).index)

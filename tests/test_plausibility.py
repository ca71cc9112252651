"""The shared plausibility table: every number with a unit has a range, out-of-range values are refused
with the field named (and a unit hint where a unit mix-up is likely), nothing else is raised."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cordmatch.errors import InvalidInputError
from cordmatch.plausibility import RANGES, TEXT_LIMITS, check_length, check_number


@given(kind=st.sampled_from(sorted(RANGES)), value=st.floats(allow_nan=True) | st.integers(-(2**80), 2**80))
def test_check_number_accepts_only_values_in_range(kind: str, value: float) -> None:
    r = RANGES[kind]
    try:
        got = check_number(value, kind, "field")
    except InvalidInputError as exc:
        assert exc.where == "field" and "field" in exc.message
        return
    assert got == value and math.isfinite(value) and value <= r.high
    assert value > r.low if r.low_open else value >= r.low


def test_units_and_hints() -> None:
    for kind in ("weight_kg", "volume_ml", "tnc", "cd34", "tnc_per_kg", "cd34_per_kg", "days", "mfi"):
        assert kind in RANGES
    with pytest.raises(InvalidInputError, match="cells/kg") as exc:
        check_number(2.5e7, "tnc_per_kg", "--tnc")
    assert exc.value.where == "--tnc"
    with pytest.raises(InvalidInputError, match="kg"):
        check_number(1e-320, "weight_kg", "weight_kg")
    with pytest.raises(InvalidInputError):
        check_number(True, "tnc", "tnc")  # type: ignore[arg-type]
    assert check_number(None, "tnc", "tnc") is None and check_number(18.0, "weight_kg", "w") == 18.0


def test_text_limits() -> None:
    assert check_length("x" * TEXT_LIMITS["reason"], "reason", "reason")
    with pytest.raises(InvalidInputError, match="longer than") as exc:
        check_length("x" * (TEXT_LIMITS["reason"] + 1), "reason", "note")
    assert exc.value.where == "note"

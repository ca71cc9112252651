"""Clinician-reviewable grading cases (tests/validation/grading_cases.csv) against the real release."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade

CASES = list(csv.DictReader((Path(__file__).parent.parent / "validation" / "grading_cases.csv").open()))


def _int(v: str) -> int | None:
    return int(v) if v.strip() else None


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_published_and_release_cases(case: dict[str, str], tables) -> None:  # type: ignore[no-untyped-def]
    g = grade(parse_typing(case["patient"], tables), parse_typing(case["donor"], tables))
    got = (
        g.match_6.bidirectional,
        g.match_6.gvh,
        g.match_6.hvg,
        g.match_8.bidirectional,
        g.match_8.gvh,
        g.match_8.hvg,
    )
    want = tuple(
        _int(case[k]) for k in ("match_6", "match_6_gvh", "match_6_hvg", "match_8", "match_8_gvh", "match_8_hvg")
    )
    assert case["source"].strip(), "every validation row names its source"
    assert got == want, case["why"]
    for count in (g.match_6, g.match_8):
        assert (count.bidirectional is None) == (count.reason is not None and "not" in count.reason)

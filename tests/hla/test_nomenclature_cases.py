"""Clinician-readable nomenclature rows (tests/validation/nomenclature_cases.csv) against the release."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cordmatch.hla.reduction import reduce_gl

CASES = list(csv.DictReader((Path(__file__).parent.parent / "validation" / "nomenclature_cases.csv").open()))


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_nomenclature_cases(case: dict[str, str], tables) -> None:  # type: ignore[no-untyped-def]
    assert case["source"].strip()
    out = reduce_gl(case["input"], case["level"], tables)
    if case["expected"]:
        assert out == case["expected"]
    for name in filter(None, case["contains"].split("/")):
        assert name in out.split("/"), name

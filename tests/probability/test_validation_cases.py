"""Clinician-reviewable hand-worked cases (tests/validation/probability_cases.csv) on the toy set."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cordmatch.probability.imputation import constraints_from_gl, impute
from cordmatch.probability.match import match_probability_from_posteriors

CASES = Path(__file__).resolve().parent.parent / "validation" / "probability_cases.csv"
ROWS = list(csv.DictReader(CASES.open(encoding="utf-8")))


@pytest.mark.parametrize("row", ROWS, ids=[r["case"] for r in ROWS])
def test_hand_worked_case(row: dict[str, str], toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    def post(gl: str):  # type: ignore[no-untyped-def]
        return impute(constraints_from_gl(gl, tables, toy_index.loci)[1], toy_index, "TOY")

    p = post(row["patient"])
    q = row["quantity"]
    expected = float(row["expected"])
    if q == "estimate":
        assert float(p.ok) == expected
    elif q == "top_genotype_probability":
        assert float(p.probabilities[0]) == pytest.approx(expected, abs=1e-9)
    elif q == "likelihood":
        assert p.likelihood == pytest.approx(expected, abs=1e-12)
    elif q == "genotypes":
        assert p.size == int(expected)
    else:
        mp = match_probability_from_posteriors(p, post(row["donor"]))
        assert mp.to_dict()[q] == pytest.approx(expected, abs=1e-9)

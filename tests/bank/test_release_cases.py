"""Clinician-reviewable QC release cases (tests/validation/bank_release_cases.csv), default criteria."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from cordmatch.bank.qc import DEFAULT_CRITERIA, evaluate

CASES = list(csv.DictReader((Path(__file__).parent.parent / "validation" / "bank_release_cases.csv").open()))
NUMERIC = {"collection_volume_ml", "tnc_pre_cryo", "post_thaw_viable_cd34_pct", "post_thaw_viable_cd45_pct",
           "post_thaw_cfu", "attached_segments"}  # fmt: skip


def _values(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in (c.key for c in DEFAULT_CRITERIA):
        raw = row[key]
        out[key] = None if raw == "" else float(raw) if key in NUMERIC else raw
    return out


@pytest.mark.parametrize("row", CASES, ids=[r["case"] for r in CASES])
def test_release_case(row: dict[str, str]) -> None:
    decision = evaluate(DEFAULT_CRITERIA, _values(row))
    assert decision.passed == (row["expected"] == "release"), row["why"]
    assert {f.key for f in decision.failures} == set(row["failing"].split()), row["why"]

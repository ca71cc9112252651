"""Clinician-readable search gates: tests/validation/selection-gates.csv (patient loci, investigational uses)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.selection import search
from cordmatch.services.search import SearchRequest, build_patient, gate_investigational, with_engraftment
from selection.helpers import TODAY, registry, unit

CSV = Path(__file__).resolve().parents[1] / "validation" / "selection-gates.csv"


def _rows() -> list[dict[str, str]]:
    with CSV.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["case"])
def test_gate(tables, row):  # type: ignore[no-untyped-def]
    idx, src = registry([unit("U8", "8", 5.0), unit("U7", "7", 4.0)], tables)
    req = SearchRequest("memory", row["patient_gl"], float(row["weight_kg"]), diagnosis=row["diagnosis"] or None,
                        research=row["research"] == "yes")  # fmt: skip
    if row["expected"] == "refused":
        with pytest.raises(InvalidInputError) as err:
            build_patient(req, tables)
        assert row["expected_text"] in err.value.message and err.value.where == "patient_gl"
        return
    p, _notes = build_patient(req, tables)
    out = gate_investigational(with_engraftment(search(idx, src, p, tables, today=TODAY)), req)
    text = row["expected_text"]
    if row["expected"] == "note":
        assert out.results and any(text in n for n in out.notes)
    elif row["expected"] == "no grafts":
        assert not out.results and not out.double_units and any(text in n for n in out.notes)
    else:
        assert out.results
        assert all(any(text in c.value or text in c.rule for c in r.checks) for r in out.results)

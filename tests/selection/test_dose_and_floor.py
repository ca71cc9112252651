"""The 4/6 floor, single-unit dose by diagnosis and match (CD34+ included), double-only units, doubles when
no acceptable single unit reaches the dose, and the loci a patient must be typed at."""

from __future__ import annotations

import pytest

from cordmatch.errors import InvalidInputError
from cordmatch.hla.typing import parse_typing
from cordmatch.selection import Antibody, Patient, search
from cordmatch.selection.model import FAIL, INFO
from selection.helpers import TODAY, WEIGHT, patient, registry, unit


def ids(out):  # type: ignore[no-untyped-def]
    return [r.unit.unit_id for r in out.results]


def test_floor_4_of_6_for_singles_and_each_unit_of_a_double(tables):  # type: ignore[no-untyped-def]
    units = [unit("3of6", "4", 9.0), unit("4of6", "4/6", 5.0), unit("a", "8", 2.0), unit("b", "7", 2.0)]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert ids(out) == ["4of6"]
    check = next(c for c in out.results[0].checks if c.rule.startswith("HLA match (6"))
    assert check.value == "4/6" and check.threshold == ">= 4/6" and "Barker" in check.source
    # no single unit: doubles never pair a 3/6 unit
    idx, src = registry([unit("3of6", "4", 2.5), unit("a", "8", 2.0), unit("b", "7", 2.0)], tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert not out.results and out.double_units
    assert all("3of6" not in {d.first.unit.unit_id, d.second.unit.unit_id} for d in out.double_units)


def test_more_mismatch_needs_more_cells(tables):  # type: ignore[no-untyped-def]
    # Barker 2010: 2 mismatches of 6 (4/6) below TNC 5.0 x10^7/kg had higher TRM
    idx, src = registry([unit("4of6-low", "4/6", 4.5), unit("4of6-high", "4/6", 5.0), unit("6of6", "6", 3.0)], tables)
    out = search(idx, src, patient(tables, malignant=True), tables, today=TODAY)
    assert sorted(ids(out)) == ["4of6-high", "6of6"]
    exp = search(idx, src, patient(tables), tables, explain="4of6-low", today=TODAY).explanation
    assert exp is not None and exp.status == "double only"
    assert any("2 or more mismatches" in line and ">= 5" in line for line in exp.lines), exp.lines


def test_non_malignant_needs_more_cells_under_the_default_policy(tables):  # type: ignore[no-untyped-def]
    idx, src = registry([unit("four", "8", 4.0), unit("six", "7", 6.0)], tables)
    assert ids(search(idx, src, patient(tables, malignant=False), tables, today=TODAY)) == ["six"]
    assert ids(search(idx, src, patient(tables, malignant=True), tables, today=TODAY)) == ["four", "six"]


def test_units_below_the_single_dose_are_double_only(tables):  # type: ignore[no-untyped-def]
    units = [unit("big", "6", 3.5), unit("small", "8", 2.5), unit("low-cd34", "8", 4.0, cd34_per_kg=1.2)]
    idx, src = registry(units, tables)
    out = search(idx, src, patient(tables), tables, today=TODAY)
    assert ids(out) == ["big"]  # CD34+ 1.2 < 1.5 takes part: one unit is not enough
    assert out.counts["double_only"] == 2
    assert any("double only" in n for n in out.notes)
    for uid in ("small", "low-cd34"):
        exp = search(idx, src, patient(tables), tables, explain=uid, today=TODAY).explanation
        assert exp is not None and exp.status == "double only", exp


def test_doubles_offered_when_the_only_single_unit_fails_a_hard_rule(tables):  # type: ignore[no-untyped-def]
    # the case: a unit reaching the dose but carrying a DSA (MFI 18,000) blocked every double
    units = [unit("dsa", "7", 9.0), unit("a", "8", 2.0), unit("b", "7C", 2.0)]  # only "dsa" carries A*02:05
    idx, src = registry(units, tables)
    p = patient(tables, weight=WEIGHT, antibodies=(Antibody("A*02:05", 18000.0),))
    out = search(idx, src, p, tables, today=TODAY)
    assert not out.results
    assert out.double_units
    d = out.double_units[0]
    assert {d.first.unit.unit_id, d.second.unit.unit_id} == {"a", "b"}
    for u in (d.first, d.second):  # shown plainly as double only, not as a failed single
        single = next(c for c in u.checks if c.rule.startswith("TNC dose, single"))
        assert single.verdict == INFO and "double graft only" in single.value
        assert all(c.verdict != FAIL for c in u.checks)


def test_patient_needs_a_b_drb1(tables):  # type: ignore[no-untyped-def]
    idx, src = registry([unit("u", "8", 5.0)], tables)
    for gl, missing in (("A*02:01+A*01:01", "HLA-B, HLA-DRB1"), ("A*02:01+A*01:01^B*08:01+B*44:02", "HLA-DRB1")):
        p = Patient(parse_typing(gl, tables), 10.0)
        with pytest.raises(InvalidInputError) as err:
            search(idx, src, p, tables, today=TODAY)
        assert missing in err.value.message and err.value.where == "patient_gl"
    p = Patient(parse_typing("A*02:01+A*01:01^B*08:01+B*44:02^DRB1*03:01+DRB1*04:01", tables), 10.0)
    out = search(idx, src, p, tables, today=TODAY)
    assert any("HLA-C not typed" in n for n in out.notes)


def test_unresolved_units_ranked_by_probable_match_not_best_case(tables):  # type: ignore[no-untyped-def]
    units = [unit("U8", "8", 3.1), unit("XX", "XX", 9.0), unit("U7", "7", 9.5), unit("U6", "6", 9.0)]
    idx, src = registry(units, tables)
    p = patient(tables)
    assert ids(search(idx, src, p, tables, today=TODAY)) == ["U8", "XX", "U7", "U6"]

    def unlikely(patient_typing, unit_typing):  # type: ignore[no-untyped-def]
        return {"P(8/8)": 0.1, "P(>=7/8)": 0.3, "P(6/6)": 0.9}

    def likely(patient_typing, unit_typing):  # type: ignore[no-untyped-def]
        return {"P(8/8)": 0.9, "P(>=7/8)": 0.97, "P(6/6)": 0.99}

    out = search(idx, src, p, tables, today=TODAY, probability=unlikely)
    assert ids(out) == ["U8", "U7", "U6", "XX"]  # probable 6/8: just below a resolved 6/8
    xx = out.results[-1]
    assert any(c.rule.startswith("ranking of an unresolved") and "ranked as 6/8" in c.value for c in xx.checks)
    assert ids(search(idx, src, p, tables, today=TODAY, probability=likely)) == ["U8", "XX", "U7", "U6"]
    # the top of a short list is filled from further down when an unresolved unit drops
    top2 = search(idx, src, p, tables, today=TODAY, probability=unlikely, top=2)
    assert ids(top2) == ["U8", "U7"]


def test_explain_states_the_rank_the_search_gives_an_unresolved_unit(tables):  # type: ignore[no-untyped-def]
    units = [unit("U8", "8", 3.1), unit("XX", "XX", 9.0), unit("U7", "7", 9.5), unit("U6", "6", 9.0)]
    idx, src = registry(units, tables)
    p = patient(tables)

    def unlikely(patient_typing, unit_typing):  # type: ignore[no-untyped-def]
        return {"P(8/8)": 0.1, "P(>=7/8)": 0.3, "P(6/6)": 0.9}

    listed = search(idx, src, p, tables, today=TODAY, probability=unlikely, explain="XX")
    assert ids(listed) == ["U8", "U7", "U6", "XX"]
    exp = listed.explanation
    assert exp.status == "ranked" and exp.rank == 4  # its best case (8/8) would rank it 2nd
    assert exp.lines[0].startswith("ranked 4 of 4 units")
    assert any("ranked as 6/8, its probable match, not its best case" in line for line in exp.lines)
    # not in a short list: the search's list is taken deeper, and the outcome's counts are the search's
    plain = search(idx, src, p, tables, today=TODAY, probability=unlikely, top=2)
    short = search(idx, src, p, tables, today=TODAY, probability=unlikely, top=2, explain="XX")
    assert ids(short) == ["U8", "U7"] and short.explanation.rank == 4 and short.counts == plain.counts
    assert search(idx, src, p, tables, today=TODAY, probability=unlikely, top=2, explain="U6").explanation.rank == 3
    # without a match probability the unit is ranked on its best case, and the explanation says so
    best = search(idx, src, p, tables, today=TODAY, explain="XX").explanation
    assert best.rank == 2 and any("no match probability was computed" in line for line in best.lines)

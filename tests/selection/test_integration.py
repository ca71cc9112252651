"""Selection with the other cores: match probability for unresolved units, indications, engraftment."""

from __future__ import annotations

from cordmatch.selection import search
from cordmatch.services.search import malignancy_from_diagnosis, probability_grader, with_engraftment
from selection.helpers import TODAY, patient, registry, unit


def test_unresolved_units_carry_match_probabilities(tables):  # type: ignore[no-untyped-def]
    idx, src = registry([unit("U8", "8", 3.1), unit("XX", "XX", 9.0)], tables)
    out = search(idx, src, patient(tables), tables, probability=probability_grader(), today=TODAY)
    by_id = {r.unit.unit_id: r for r in out.results}
    probs = [c for c in by_id["XX"].checks if c.rule.startswith("match probability")]
    assert probs and "P(8/8)" in probs[0].value and "P(6/6)" in probs[0].value
    assert not [c for c in by_id["U8"].checks if c.rule.startswith("match probability")]


def test_diagnosis_decides_the_disease_specific_dose() -> None:
    assert malignancy_from_diagnosis("acute myeloid leukaemia")[0] is True
    assert malignancy_from_diagnosis("thalassaemia")[0] is False
    value, notes = malignancy_from_diagnosis("spinal cord injury")
    assert value is None and notes  # investigational use, never an indication
    assert malignancy_from_diagnosis(None) == (None, [])


def test_results_carry_an_engraftment_estimate(tables):  # type: ignore[no-untyped-def]
    idx, src = registry([unit("a", "7", 2.0), unit("b", "6", 1.9)], tables)
    out = with_engraftment(search(idx, src, patient(tables, weight=10.0), tables, today=TODAY))
    for r in out.results:
        est = [c for c in r.checks if c.rule == "estimated neutrophil engraftment"]
        assert est and "median day" in est[0].value
    assert out.double_units
    assert any(c.rule == "estimated neutrophil engraftment" for c in out.double_units[0].checks)


def test_single_results_say_extrapolated_double_only_units_get_no_single_estimate(tables):  # type: ignore[no-untyped-def]
    idx, src = registry([unit("big", "8", 4.0), unit("a", "7", 2.0), unit("b", "6", 1.9)], tables)
    out = with_engraftment(search(idx, src, patient(tables, weight=10.0), tables, today=TODAY))
    assert [r.unit.unit_id for r in out.results] == ["big"]  # "a" and "b" are double only
    est = [c for c in out.results[0].checks if c.rule == "estimated neutrophil engraftment"]
    assert est and "extrapolated" in est[0].value and "double-unit data" in est[0].value
    assert not out.double_units  # an acceptable single unit reaches the dose


def test_adult_sees_adult_rows_child_paediatric_rows() -> None:
    _, adult = malignancy_from_diagnosis("AML", 80.0)
    _, child = malignancy_from_diagnosis("AML", 20.0)
    assert adult and all("(adult)" in n for n in adult if n.startswith("indication: Acute"))
    assert child and all("(paediatric)" in n for n in child if n.startswith("indication: Acute"))
    assert any("(adult)" in n for n in adult) and not any("(adult)" in n for n in child)

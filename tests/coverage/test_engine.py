"""Coverage engine: counts equal the selection kernel's grades for resolved units, never count a best case,
DSA and dose rules, double grafts, genotype alternatives, independence from block and chunk sizes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.coverage.conftest import PATIENT, coded_patients

from cordmatch.coverage.engine import LEVELS, CoverageIndex, DoseRule, evaluate, served_matrix
from cordmatch.errors import InvalidInputError
from cordmatch.selection import kernel
from cordmatch.selection.index import NOT_CODABLE
from cordmatch.selection.model import UnitRecord
from cordmatch.selection.records import build_index
from cordmatch.selection.settings import default_settings
from cordmatch.services.coverage import antigen_relation
from cordmatch.sim.coverage_patients import simulate_patients

NMDP = DoseRule.from_settings(default_settings(), default_settings().policy("nmdp"))
LEVEL_K = {"4/6": (6, 4), "5/6": (6, 5), "6/6": (6, 6), "6/8": (8, 6), "7/8": (8, 7), "8/8": (8, 8)}


def _ci(tables, index, subset=None):  # type: ignore[no-untyped-def]
    """The coverage index with the release's antigen relation, as the service builds it."""
    return CoverageIndex.from_unit_index(index, subset, relation=antigen_relation(tables))


def _rel(tables):  # type: ignore[no-untyped-def]
    return {"relation": antigen_relation(tables)}


def _resolved_slots(index):  # type: ignore[no-untyped-def]
    n = index.n
    out = []
    for s in range(n):
        if index.flags[s] & NOT_CODABLE:
            continue
        _, al = index.codes(s)
        if (al >= 0).all():
            out.append(s)
    return np.array(out, dtype=np.int64)


def _single_ok(th, tnc_kg: float, cd34_kg: float | None, mm6_worst: int) -> bool:  # type: ignore[no-untyped-def]
    """The selection rules' single-unit dose (with the match-dependent minimum where the rules have one)."""
    pre = tnc_kg > th.prefilter_tnc and (cd34_kg is None or cd34_kg >= th.prefilter_cd34)
    try:
        return pre and bool(th.meets_single(tnc_kg, cd34_kg, mm6_worst))
    except TypeError:  # rules without CD34+/match arguments: TNC only there, CD34+ minimum added here
        return pre and bool(th.meets_single(tnc_kg)) and (cd34_kg is None or cd34_kg >= th.single_cd34)


def test_counts_equal_the_kernel_for_resolved_units(tables, small_registry):  # type: ignore[no-untyped-def]
    """On units the kernel resolves for every patient (allele-typed, no antigen-level doubt), the engine's
    counts are the kernel's grades, DSA and the selection rules' single-unit dose."""
    from cordmatch.selection.rules import resolve_thresholds

    s = default_settings()
    pats = simulate_patients(24, 5, "mix", tables).coded
    slots = _resolved_slots(small_registry)
    graded = [
        kernel.grade_index(small_registry, pats.ag[p], pats.al[p], pats.profiles[p], **_rel(tables))
        for p in range(len(pats))
    ]
    for g in graded:
        slots = slots[(g.match_6()[slots] >= 0) & (g.match_8()[slots] >= 0)]
    assert len(slots) > 1000
    cov = evaluate(_ci(tables, small_registry, slots), pats, NMDP, block=5)
    tnc, cd34 = small_registry.tnc[slots], small_registry.cd34[slots]
    for p, g in enumerate(graded):
        dsa = g.dsa_definite()[slots]
        if g.dsa_possible is not None:
            dsa |= g.dsa_possible[slots]
        m6, m8 = g.match_6()[slots], g.match_8()[slots]
        w = float(pats.weight_kg[p])
        th = resolve_thresholds(s, s.policy("nmdp"), w, bool(pats.malignant[p]))
        dose = np.array(
            [
                _single_ok(th, float(t) / 1e7 / w, None if np.isnan(c) else float(c) / 1e5 / w, 6 - int(m))
                for t, c, m in zip(tnc, cd34, m6, strict=True)
            ]
        )
        for i, level in enumerate(LEVELS):
            scale, k = LEVEL_K[level]
            ok = ((m6 if scale == 6 else m8) >= k) & ~dsa
            assert cov.count[p, i] == ok.sum(), (p, level)
            assert cov.count_dose is not None and cov.count_dose[p, i] == (ok & dose).sum(), (p, level)


def test_never_more_than_the_best_case(tables, small_registry):  # type: ignore[no-untyped-def]
    pats = simulate_patients(16, 8, "CAU", tables).coded
    cov = evaluate(_ci(tables, small_registry), pats, None)
    for p in range(len(pats)):
        g = kernel.grade_index(small_registry, pats.ag[p], pats.al[p], pats.profiles[p], **_rel(tables))
        best8 = 8 - g.mm8().astype(int)
        best6 = 6 - kernel.field(g.packed, kernel.MM6).astype(int)
        clean = ~g.dsa_definite()
        for i, level in enumerate(LEVELS):
            scale, k = LEVEL_K[level]
            assert cov.count[p, i] <= (((best6 if scale == 6 else best8) >= k) & clean).sum()


def _index(tables, typings, tnc=3e9, cd34=None):  # type: ignore[no-untyped-def]
    tncs = tnc if isinstance(tnc, list) else [tnc] * len(typings)
    records = [UnitRecord(f"U{i}", gl, t, cd34) for i, (gl, t) in enumerate(zip(typings, tncs, strict=True))]
    return build_index(records, tables)


def _levels(cov, p=0):  # type: ignore[no-untyped-def]
    return {lv: int(cov.count[p, i]) for i, lv in enumerate(LEVELS)}


def test_antigen_level_unit_is_not_counted_at_allele_level(tables):  # type: ignore[no-untyped-def]
    unit = "A*01:XX+A*02:XX^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
    cov = evaluate(_ci(tables, _index(tables, [unit])), coded_patients(tables, [PATIENT]))
    assert _levels(cov) == {"4/6": 1, "5/6": 1, "6/6": 1, "6/8": 1, "7/8": 0, "8/8": 0}


def test_one_unknown_allele_costs_one_in_the_worst_case(tables):  # type: ignore[no-untyped-def]
    unit = "A*01:01+A*02:XX^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
    cov = evaluate(_ci(tables, _index(tables, [unit])), coded_patients(tables, [PATIENT]))
    assert _levels(cov) == {"4/6": 1, "5/6": 1, "6/6": 1, "6/8": 1, "7/8": 1, "8/8": 0}


def test_untyped_locus_is_the_worst_case(tables):  # type: ignore[no-untyped-def]
    no_c = "A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"
    no_dr = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02"
    cov = evaluate(_ci(tables, _index(tables, [no_c])), coded_patients(tables, [PATIENT]))
    assert _levels(cov) == {"4/6": 1, "5/6": 1, "6/6": 1, "6/8": 1, "7/8": 0, "8/8": 0}
    cov = evaluate(_ci(tables, _index(tables, [no_dr])), coded_patients(tables, [PATIENT]))
    assert _levels(cov) == {"4/6": 1, "5/6": 0, "6/6": 0, "6/8": 1, "7/8": 0, "8/8": 0}


def test_definite_and_possible_dsa_are_not_counted(tables):  # type: ignore[no-untyped-def]
    unit = "A*01:01+A*03:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
    xx = "A*01:01+A*03:XX^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
    cidx = _ci(tables, _index(tables, [unit, xx]))
    pats = coded_patients(
        tables, [PATIENT] * 3, antibodies=[[], [("A*03:01", 5000)], [("A*03:01", 500)]]
    )  # no antibody; allele-level DSA (definite on U0, possible on the XX unit); below the MFI threshold
    cov = evaluate(cidx, pats)
    assert cov.count[0, LEVELS.index("5/6")] == 2
    assert cov.count[1].sum() == 0
    assert cov.count[2, LEVELS.index("5/6")] == 2


def test_single_dose_and_double_graft(tables):  # type: ignore[no-untyped-def]
    unit = PATIENT
    # 60 kg: single needs >= 1.8e9 TNC; double needs each >= 9e8 and together > 2.1e9
    cidx = _ci(tables, _index(tables, [unit, unit], tnc=1.2e9))
    pats = coded_patients(tables, [PATIENT, PATIENT], weights=[60.0, 35.0])
    cov = evaluate(cidx, pats, NMDP)
    assert cov.count_dose is not None and cov.double is not None
    assert cov.count_dose[0, 0] == 0 and bool(cov.double[0])  # 2 x 1.2e9 = 2.4e9 > 2.1e9
    assert cov.count_dose[1, 0] == 2  # 1.2e9 / 35 kg = 3.4e7/kg
    one = _ci(tables, _index(tables, [unit], tnc=1.2e9))
    assert not bool(evaluate(one, pats, NMDP).double[0])  # type: ignore[index]
    low_cd34 = _ci(tables, _index(tables, [unit], tnc=3e9, cd34=1e6))  # 0.17e5/kg at 60 kg
    assert evaluate(low_cd34, pats, NMDP).count_dose[0, 0] == 0  # type: ignore[index]


def test_eurocord_non_malignant_needs_more_than_five(tables):  # type: ignore[no-untyped-def]
    s = default_settings()
    euro = DoseRule.from_settings(s, s.policy("eurocord"))
    cidx = _ci(tables, _index(tables, [PATIENT], tnc=2.0e9))
    pats = coded_patients(tables, [PATIENT, PATIENT], weights=[40.0, 40.0], malignant=[0, 1])
    cov = evaluate(cidx, pats, euro)  # 2e9 / 40 kg = exactly 5.0e7/kg: must exceed 5 (non-malignant)
    assert cov.count_dose is not None
    assert cov.count_dose[0, 0] == 0 and cov.count_dose[1, 0] == 1


def test_genotype_alternatives_take_the_worst(tables):  # type: ignore[no-untyped-def]
    amb = "A*01:01+A*02:01|A*01:01+A*02:05^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
    index = _index(tables, [amb])
    assert len(index.alt_owner) > 0
    cov = evaluate(_ci(tables, index), coded_patients(tables, [PATIENT]))
    assert _levels(cov) == {"4/6": 1, "5/6": 1, "6/6": 1, "6/8": 1, "7/8": 1, "8/8": 0}


def test_same_answer_for_any_block_and_chunk(tables, small_registry):  # type: ignore[no-untyped-def]
    pats = simulate_patients(40, 2, "mix", tables).coded
    cidx = _ci(tables, small_registry)
    a = evaluate(cidx, pats, NMDP)
    b = evaluate(cidx, pats, NMDP, block=3, unit_chunk=257)
    assert np.array_equal(a.count, b.count) and np.array_equal(a.count_dose, b.count_dose)  # type: ignore[arg-type]
    assert np.array_equal(a.double, b.double)  # type: ignore[arg-type]
    # more units never serve fewer patients
    half = _ci(tables, small_registry, np.arange(0, small_registry.n, 2))
    assert (evaluate(half, pats, NMDP).count <= a.count).all()


def test_served_matrix_agrees_with_counts(tables, small_registry):  # type: ignore[no-untyped-def]
    pats = simulate_patients(10, 4, "CAU", tables).coded
    cidx = _ci(tables, small_registry, np.arange(200))
    m = served_matrix(cidx, pats, "5/6", NMDP)
    cov = evaluate(cidx, pats, NMDP)
    assert cov.count_dose is not None
    assert np.array_equal(m.sum(axis=1), cov.count_dose[:, 1])
    with pytest.raises(InvalidInputError, match="unknown level"):
        served_matrix(cidx, pats, "9/10")


def test_dose_thresholds_at_the_boundary(tables):  # type: ignore[no-untyped-def]
    # NMDP single unit: TNC/kg >= 3.0 (exactly 3.0 counts); double: each must exceed the 1.5 pre-filter
    pats = coded_patients(tables, [PATIENT], weights=[60.0])
    exact = evaluate(_ci(tables, _index(tables, [PATIENT], tnc=1.8e9)), pats, NMDP)
    assert exact.count_dose[0, 0] == 1  # type: ignore[index]
    # 2.5 + 1.5 = 4.0/kg > 3.5, but the second unit does not exceed the 1.5 pre-filter: no double
    at_prefilter = _ci(tables, _index(tables, [PATIENT] * 2, tnc=[1.5e9, 9.0e8]))
    assert not bool(evaluate(at_prefilter, pats, NMDP).double[0])  # type: ignore[index]
    above = _ci(tables, _index(tables, [PATIENT] * 2, tnc=[1.5e9, 9.1e8]))
    assert bool(evaluate(above, pats, NMDP).double[0])  # type: ignore[index]


def test_untyped_patient_locus_is_never_served_at_its_level(tables):  # type: ignore[no-untyped-def]
    no_drb1 = "A*01:01+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02"
    cov = evaluate(_ci(tables, _index(tables, [PATIENT])), coded_patients(tables, [no_drb1]))
    assert _levels(cov) == {"4/6": 1, "5/6": 0, "6/6": 0, "6/8": 1, "7/8": 0, "8/8": 0}


@settings(max_examples=25, deadline=None)
@given(masks=st.lists(st.tuples(st.integers(0, 39), st.integers(0, 3)), min_size=1, max_size=30))
def test_less_typing_information_never_serves_more(tables, masks):  # type: ignore[no-untyped-def]
    """Property: replacing alleles by their antigen (``A*02:01`` -> ``A*02:XX``) never raises a count."""
    from cordmatch.sim.coverage_patients import simulate_patients

    sim = simulate_patients(40, 13, "CAU", tables)
    units = [_gl(tables, sim, i) for i in range(40)]
    masked = list(units)
    for unit, locus in masks:
        parts = masked[unit].split("^")
        a, b = parts[locus].split("+")
        parts[locus] = f"{a.split(':')[0]}:XX+{b}"
        masked[unit] = "^".join(parts)
    pats = simulate_patients(12, 14, "CAU", tables).coded
    full = evaluate(_ci(tables, _index(tables, units)), pats)
    less = evaluate(_ci(tables, _index(tables, masked)), pats)
    assert (less.count <= full.count).all()


def _gl(tables, sim, i):  # type: ignore[no-untyped-def]
    names = sim.tables["CAU"].names
    h1, h2 = (names[int(h)].split("~") for h in sim.haplotypes[i])
    return "^".join(f"{x}+{y}" for x, y in zip(h1, h2, strict=True))


@pytest.mark.parametrize("population", ["CAU", "AFA", "mix"])
def test_sparse_visit_equals_the_dense_scan(tables, small_registry, population):  # type: ignore[no-untyped-def]
    """The engine visits only units that fully match at A, B or DRB1 (and ambiguous units); a dense scan of
    every unit gives the same counts."""
    pats = simulate_patients(48, 17, population, tables).coded
    cidx = _ci(tables, small_registry)
    for dose in (NMDP, None):
        sparse = evaluate(cidx, pats, dose)
        dense = evaluate(cidx, pats, dose, method="dense", unit_chunk=500)
        assert np.array_equal(sparse.count, dense.count)
        if dose is not None:
            assert np.array_equal(sparse.count_dose, dense.count_dose)  # type: ignore[arg-type]


def test_mismatched_units_need_the_higher_dose_when_the_rules_set_one(tables):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    five = "A*01:01+A*03:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"  # 5/6
    four = "A*01:01+A*03:01^B*08:01+B*44:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"  # 4/6
    cidx = _ci(tables, _index(tables, [five, four], tnc=1.4e9))  # 3.5 x10^7/kg at 40 kg
    pats = coded_patients(tables, [PATIENT], weights=[40.0])
    for method in ("sparse", "dense"):
        plain = evaluate(cidx, pats, replace(NMDP, mismatched_tnc=0.0), method=method)
        assert plain.count_dose[0, 0] == 2  # type: ignore[index]
        strict = evaluate(cidx, pats, replace(NMDP, mismatched_tnc=4.0), method=method)
        assert strict.count_dose[0, 0] == 1 and strict.count_dose[0, 1] == 1  # type: ignore[index]
    m = served_matrix(cidx, pats, "4/6", replace(NMDP, mismatched_tnc=4.0))
    assert m.sum() == 1


def test_the_release_antigen_relation_reaches_the_kernel(tables, monkeypatch):  # type: ignore[no-untyped-def]
    seen: list[object] = []
    original = kernel.locus_results

    def spy(*args, relation=None, **kw):  # type: ignore[no-untyped-def]
        seen.append(relation)
        return original(*args, **kw)

    monkeypatch.setattr(kernel, "locus_results", spy)
    rel = np.zeros((1, 1), dtype=np.int8)
    cidx = CoverageIndex.from_unit_index(_index(tables, [PATIENT]), relation=rel)
    evaluate(cidx, coded_patients(tables, [PATIENT]))
    assert seen and all(r is rel for r in seen)
    seen.clear()
    evaluate(CoverageIndex.from_unit_index(_index(tables, [PATIENT])), coded_patients(tables, [PATIENT]))
    assert seen and all(r is None for r in seen)


def test_untyped_locus_with_patient_antibodies_is_not_assessed_so_not_counted(tables):  # type: ignore[no-untyped-def]
    no_c = "A*01:01+A*02:01^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"
    cidx = _ci(tables, _index(tables, [no_c]))
    pats = coded_patients(tables, [PATIENT, PATIENT], antibodies=[[("C*04:01", 4000)], [("A*03:01", 4000)]])
    cov = evaluate(cidx, pats)
    assert cov.count[0].sum() == 0  # anti-C and the unit is untyped at C: the crossmatch cannot be settled
    assert cov.count[1, LEVELS.index("6/6")] == 1  # antibody at a typed locus that the unit lacks


def test_patient_typed_at_antigen_level_is_not_served_at_allele_level(tables):  # type: ignore[no-untyped-def]
    xx = "A*01:XX+A*02:01^B*08:01+B*07:02^C*07:01+C*07:02^DRB1*03:01+DRB1*15:01"
    cov = evaluate(_ci(tables, _index(tables, [PATIENT])), coded_patients(tables, [xx]))
    assert _levels(cov) == {"4/6": 1, "5/6": 1, "6/6": 1, "6/8": 1, "7/8": 1, "8/8": 0}

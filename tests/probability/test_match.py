"""Match probability: hand-worked cases, agreement with the foundation's grader, the batch search hook."""

from __future__ import annotations

import numpy as np
import pytest

from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade
from cordmatch.probability.imputation import constraints_from_gl, impute
from cordmatch.probability.match import (
    PackedPosteriors,
    batch_match_probabilities,
    locus_mismatches,
    match_probability_from_posteriors,
)
from cordmatch.probability.simulate import sample_people, typing_gl

G1 = "A*01:01+A*02:01^C*07:01+C*07:02^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01^DQB1*02:01+DQB1*06:02"


def post(gl: str, index, tables, pop: str = "TOY"):  # type: ignore[no-untyped-def]
    return impute(constraints_from_gl(gl, tables, index.loci)[1], index, pop)


def test_exact_patient_against_ambiguous_unit_by_hand(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    # Unit A*01:01+A*02:01^B*08:01+B*07:02: G1 (h1+h2) 6/7, G2 (h4+h3) 1/7. G2 differs from G1 only
    # at DRB1 (15:01 homozygous: GvH 1, HvG 0) and DQB1; so P(8/8)=6/7, P(7/8)=1/7, P(5/6)=1/7.
    mp = match_probability_from_posteriors(
        post(G1, toy_index, tables), post("A*01:01+A*02:01^B*08:01+B*07:02", toy_index, tables)
    )
    assert mp.ok
    assert mp.at_least_8(8) == pytest.approx(6 / 7)
    assert mp.match_8[7] == pytest.approx(1 / 7)
    assert mp.at_least_6(6) == pytest.approx(6 / 7)
    assert mp.match_6[5] == pytest.approx(1 / 7)
    assert mp.loci["DRB1"] == pytest.approx([6 / 7, 1 / 7, 0.0])
    assert mp.loci["A"] == pytest.approx([1.0, 0.0, 0.0])
    assert mp.loci_antigen["DQB1"] == pytest.approx([6 / 7, 1 / 7, 0.0])  # DQB1*02 vs DQB1*06
    d = mp.to_dict()
    assert d["p_8_of_8"] == pytest.approx(6 / 7) and d["match_8"]["7/8"] == pytest.approx(1 / 7)


def test_both_ambiguous_by_hand(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    # Both A*02:01+A*02:01: genotypes h2h2 .36, h2h3 .48, h3h3 .16 at C/B (h2: C*07:02 B*07:02,
    # h3: C*07:01 B*08:01). 8/8 needs the same genotype: .36^2 + .48^2 + .16^2.
    p = post("A*02:01+A*02:01", toy_index, tables)
    mp = match_probability_from_posteriors(p, p)
    assert mp.at_least_8(8) == pytest.approx(0.36**2 + 0.48**2 + 0.16**2)
    assert sum(mp.match_8) == pytest.approx(1.0)
    assert sum(mp.match_6) == pytest.approx(1.0)
    # h2h2 vs h3h3: two mismatches at B and C each (4 in all) -> 4/8, with probability 2*.36*.16
    assert mp.match_8[4] == pytest.approx(2 * 0.36 * 0.16)


def test_null_allele_counts_as_homozygous_for_the_other() -> None:
    pat = np.array([[5, 7]])
    pat_null = np.array([[False, True]])  # 7 is a null allele: presents 5, 5
    don = np.array([[5, 5], [5, 9]])
    don_null = np.zeros((2, 2), dtype=bool)
    gvh, hvg = locus_mismatches(pat, don, pat_null, don_null)
    assert gvh.tolist() == [[0, 0]]
    assert hvg.tolist() == [[0, 1]]


def test_certain_typings_agree_with_the_foundation_grader(index, tables) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(11)
    people = sample_people(index, "CAU", 40, rng)
    gls = [typing_gl(index, g) for g in people]
    posts = [post(gl, index, tables, "CAU") for gl in gls]
    for i in range(0, 40, 2):
        a, b = gls[i], gls[i + 1] if i % 4 else gls[i]
        pa, pb = posts[i], posts[i + 1] if i % 4 else posts[i]
        mp = match_probability_from_posteriors(pa, pb)
        g = grade(parse_typing(a, tables), parse_typing(b, tables))
        assert mp.match_8[g.match_8.bidirectional] == pytest.approx(1.0)
        assert mp.match_6[g.match_6.bidirectional] == pytest.approx(1.0)
        for locus in ("A", "B", "C", "DRB1"):
            lg = g.loci[locus]
            assert mp.loci[locus][max(lg.allele.gvh, lg.allele.hvg)] == pytest.approx(1.0)


def test_batch_hook_equals_pairwise_results(index, tables) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    people = sample_people(index, "CAU", 25, rng)
    patient = post(typing_gl(index, people[0], loci=("A", "B", "C", "DRB1")), index, tables, "CAU")
    units = [
        post(typing_gl(index, g, antigen_loci=("A", "B"), loci=("A", "B", "DRB1")), index, tables, "CAU")
        for g in people[1:]
    ]
    units.append(post("B*07:02+B*07:02^DRB1*03:01+DRB1*03:01^A*01:01+A*01:01", index, tables, "CAU"))
    packed = PackedPosteriors.pack(units, index.loci)
    s = batch_match_probabilities(patient, packed)
    for u, unit in enumerate(units):
        if not unit.ok:
            assert not s.ok[u] and np.isnan(s.p_8_of_8[u])
            continue
        mp = match_probability_from_posteriors(patient, unit)
        assert s.p_8_of_8[u] == pytest.approx(mp.at_least_8(8), abs=1e-12)
        assert s.p_at_least_7_of_8[u] == pytest.approx(mp.at_least_8(7), abs=1e-12)
        assert s.p_6_of_6[u] == pytest.approx(mp.at_least_6(6), abs=1e-12)
        assert s.p_at_least_5_of_6[u] == pytest.approx(mp.at_least_6(5), abs=1e-12)


def test_no_estimate_propagates(toy_index, tables) -> None:  # type: ignore[no-untyped-def]
    bad = post("C*07:01+C*07:01^B*07:02+B*07:02", toy_index, tables)
    mp = match_probability_from_posteriors(post(G1, toy_index, tables), bad)
    assert not mp.ok and "donor" in (mp.reason or "")
    assert mp.to_dict()["estimate"] is False
    assert np.isnan(mp.at_least_8(8))


def test_ambiguous_loci_and_reason(index, tables) -> None:  # type: ignore[no-untyped-def]
    from cordmatch.probability.match import ambiguous_loci, probability_reason

    exact = parse_typing(G1, tables)
    assert ambiguous_loci(exact) == []
    assert ambiguous_loci(parse_typing("A1+A2^B8+B7^DRB1*03:01+DRB1*15:01", tables)) == ["A", "B", "C"]
    assert ambiguous_loci(parse_typing(G1.replace("A*01:01+", "A*01:01/A*01:02+"), tables)) == ["A"]
    patient = post(G1, index, tables, "CAU")
    units = PackedPosteriors.pack([post("A1+A2^B8+B7^DRB1*03:01+DRB1*15:01", index, tables, "CAU")], index.loci)
    s = batch_match_probabilities(patient, units)
    text = probability_reason(s, 0, ["A", "B", "C"])
    assert text.startswith("typing ambiguous at A, B, C: ranked by match probability P(8/8) 0.")

"""The antigen level of match probability follows WHO serology exactly as grading does (ADR 0002, issue 10).

For unambiguous allele typings the imputed genotypes at A, B, C and DRB1 are the typed ones, so P(6/6) and
P(8/8) must be exactly 1 when ``grade`` gives 6/6 (8/8) and exactly 0 otherwise (also when ``grade`` leaves
the count unresolved: a probability never assumes the best case).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cordmatch.hla.typing import parse_typing
from cordmatch.matching import grade
from cordmatch.probability.frequencies import parse_frequency_lines
from cordmatch.probability.imputation import GenotypePosterior, constraints_from_gl, impute
from cordmatch.probability.index import (
    HaplotypeIndex,
    build_index,
    lgx_antigen_table,
    relation_matrix,
    relation_pairs,
)
from cordmatch.probability.match import MatchProbability, locus_mismatches, match_probability_from_posteriors

#: Two-field alleles whose WHO antigens relate in every way: same antigen, associated vs parent (A203/A2,
#: A2403/A24, B3901/B39, DR1404/DR14), two associated antigens of one parent (A203/A210, B3901/B3902),
#: two splits of one broad (B62/B63/B75 of B15, A23/A24 of A9), a protein assigned only the broad (B*15:29:
#: B15, related to B62: cannot tell), a protein without WHO serology (B*83:01), and C proteins sharing C*16.
POOL = {
    "A": ["A*01:01", "A*02:01", "A*02:03", "A*02:10", "A*24:02", "A*24:03", "A*23:01"],
    "B": ["B*08:01", "B*07:02", "B*15:01", "B*15:17", "B*15:02", "B*15:29", "B*39:01", "B*39:02", "B*39:06", "B*83:01"],
    "C": ["C*07:01", "C*07:02", "C*16:01", "C*16:06"],
    "DRB1": ["DRB1*03:01", "DRB1*15:01", "DRB1*14:01", "DRB1*14:04", "DRB1*14:16"],
}


def typings() -> st.SearchStrategy[str]:
    locus = {
        loc: st.tuples(st.sampled_from(names), st.sampled_from(names)).map(lambda p: "+".join(p))
        for loc, names in POOL.items()
    }
    return st.tuples(*locus.values()).map(lambda parts: "^".join(parts))


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Pool:
    """Every combination of the pool's alleles as a haplotype, equally frequent: any typing drawn from the
    pool has a posterior, and it sits on the typed alleles (unphased)."""

    def __init__(self, tables) -> None:  # type: ignore[no-untyped-def]
        haps = list(itertools.product(*(POOL[loc] for loc in ("A", "C", "B", "DRB1"))))
        lines = ["Haplo,Freq"] + [f"{'~'.join(h)}~DQB1*02:01,{1 / len(haps)!r}" for h in haps]
        self.index: HaplotypeIndex = build_index([("POOL", parse_frequency_lines(lines, source="pool"))], tables)
        self.tables = tables

    def __repr__(self) -> str:
        return "Pool()"

    def probabilities(self, p_gl: str, d_gl: str) -> MatchProbability:
        def post(gl: str) -> GenotypePosterior:
            return impute(constraints_from_gl(gl, self.tables, self.index.loci)[1], self.index, "POOL")

        mp = match_probability_from_posteriors(post(p_gl), post(d_gl))
        assert mp.ok, mp.reason
        return mp


@pytest.fixture(scope="module")
def pool(tables) -> Pool:  # type: ignore[no-untyped-def]
    return Pool(tables)


@SETTINGS
@given(p=typings(), d=typings())
def test_certain_typings_p66_and_p88_agree_with_grade(p: str, d: str, pool: Pool) -> None:
    mp = pool.probabilities(p, d)
    g = grade(parse_typing(p, pool.tables), parse_typing(d, pool.tables))
    # 1 or 0 up to float rounding of the normalised posterior (sums can end at 1 - 2e-16)
    assert mp.at_least_6(6) == pytest.approx(1.0 if g.match_6.bidirectional == 6 else 0.0, abs=1e-12), g.match_6
    assert mp.at_least_8(8) == pytest.approx(1.0 if g.match_8.bidirectional == 8 else 0.0, abs=1e-12), g.match_8
    if g.match_6.bidirectional is not None:  # a settled count: the whole distribution sits on it
        assert mp.match_6[g.match_6.bidirectional] == pytest.approx(1.0)
    for locus in ("A", "B"):
        lg = g.loci[locus].antigen
        if lg.gvh is not None and lg.hvg is not None:
            assert mp.loci_antigen[locus][max(lg.gvh, lg.hvg)] == pytest.approx(1.0)


BASE_B = "A*01:01+A*02:01^B*08:01+{}^DRB1*03:01+DRB1*15:01"
BASE_A = "A*01:01+{}^B*08:01+B*07:02^DRB1*03:01+DRB1*15:01"


@pytest.mark.parametrize(
    ("base", "patient", "donor", "p66"),
    [
        (BASE_B, "B*15:01", "B*15:17", 0.0),  # B62 vs B63: two splits of B15 (first field alone said 1.0)
        (BASE_B, "B*15:01", "B*15:02", 0.0),  # B62 vs B75
        (BASE_B, "B*39:01", "B*39:02", 0.0),  # B3901 vs B3902: two associated antigens of B39
        (BASE_B, "B*39:06", "B*39:01", 1.0),  # B39 vs its associated antigen B3901
        (BASE_A, "A*02:01", "A*02:03", 1.0),  # A2 vs its associated antigen A203
        (BASE_A, "A*02:03", "A*02:10", 0.0),  # A203 vs A210
        (BASE_A, "A*24:02", "A*24:03", 1.0),  # A24 vs A2403
        (BASE_A, "A*24:02", "A*23:01", 0.0),  # A24 vs A23: splits of A9
    ],
)
def test_who_antigen_pairs(base: str, patient: str, donor: str, p66: float, pool: Pool) -> None:
    mp = pool.probabilities(base.format(patient), base.format(donor))
    assert mp.at_least_6(6) == pytest.approx(p66, abs=1e-12)
    assert mp.at_least_6(5) == pytest.approx(1.0, abs=1e-12)
    assert mp.at_least_8(8) == 0.0  # different proteins: never an allele match


def test_broad_only_protein_counts_as_mismatch_with_a_note(pool: Pool) -> None:
    # B*15:29 is assigned only the broad B15: against B62 WHO cannot tell (grade leaves 6/6 unresolved);
    # the probability counts it as a mismatch (never the best case) and says so.
    p, d = BASE_B.format("B*15:01"), BASE_B.format("B*15:29")
    mp = pool.probabilities(p, d)
    assert grade(parse_typing(p, pool.tables), parse_typing(d, pool.tables)).match_6.bidirectional is None
    assert mp.at_least_6(6) == 0.0
    assert any("related through a broad" in n and "at B" in n for n in mp.notes)
    same = pool.probabilities(p, p)
    assert not any("related through a broad" in n for n in same.notes)


def test_index_antigen_is_the_grading_serology(tables) -> None:  # type: ignore[no-untyped-def]
    lgx_antigen, names, relation = lgx_antigen_table(tables)
    expressed = np.nonzero(~tables.allele_null)[0]
    ours = np.array(names, dtype=object)[lgx_antigen[tables.allele_lgx[expressed]]]
    theirs = np.array(tables.serology_names, dtype=object)[tables.allele_serology[expressed]]
    assert (ours == theirs).all()
    idx = {n: i for i, n in enumerate(names)}
    for a, b in (("B62", "B63"), ("B3901", "B3902"), ("A203", "A210")):
        assert relation[idx[a], idx[b]] == 2
    for a, b in (("A203", "A2"), ("B3901", "B39"), ("DR1404", "DR14")):
        assert relation[idx[a], idx[b]] == 0 and relation[idx[b], idx[a]] == 0
    assert relation[idx["B62"], idx["B15"]] == 1
    assert (relation_matrix(len(names), relation_pairs(relation)) == relation).all()


def test_locus_mismatches_with_relation() -> None:
    # ids 0 = A2, 1 = A203, 2 = A210 (both associated with A2), 3 = B15-like broad related to 0
    rel = np.array([[0, 0, 0, 1], [0, 0, 2, 2], [0, 2, 0, 2], [1, 2, 2, 0]], dtype=np.int8)
    no_null = np.zeros((1, 2), dtype=bool)
    pat = np.array([[1, 1]])
    for don, expected in (([[0, 0]], 0), ([[2, 2]], 2), ([[1, 2]], 1)):
        gvh, hvg = locus_mismatches(pat, np.array(don), no_null, no_null, rel)
        assert max(int(gvh[0, 0]), int(hvg[0, 0])) == expected
    gvh, hvg = locus_mismatches(np.array([[0, 0]]), np.array([[3, 3]]), no_null, no_null, rel)
    assert (int(gvh[0, 0]), int(hvg[0, 0])) == (2, 2)  # related: counted as a mismatch
